#!/usr/bin/env bash
# The compose stack's certificate authority and every identity's key and certificate, made at
# first start by the pki-init container (deploy/docker-compose.yml) into named volumes, one
# volume per identity. Idempotent: what exists and is still good is kept, the rest is made.
#
#   deploy/pki/make-pki.sh OUT_DIR [IDENTITY...]     # default: every identity below
#
# OUT_DIR/ca/            ca.crt, ca.key: only pki-init mounts this one; app-keys/: the
#                        deployment's token and event keys (saga-admin keys init), the master set
# OUT_DIR/<identity>/    ca.crt, tls.crt, tls.key and what else the identity needs (below),
#                        and its share of the application keys (app_keys_of below)
#
# Keys are EC P-256, unencrypted PEM, mode 0400 and owned by the user that reads them (a key
# password kept beside the key in the same volume would protect nothing the volume does not):
# the volume and the file mode are the protection. Certificates last 397 days, the CA 5 years;
# a certificate due to expire within 30 days, or not signed by this CA, is made again.
#
# Environment: PKI_CHOWN=false leaves every file owned by whoever runs the script (tests,
# a machine without the containers' users); otherwise the script runs as root and needs
# CAP_CHOWN only. SAGA_ADMIN: the saga-admin binary (default: the one on PATH, as in the image).
# PKI_APP_KEYS=false makes certificates only (tests of the TLS layer), and says so.
set -euo pipefail

# identity  uid    kind     subjectAltNames (server certificates only)
# Kafka's image runs as appuser (1000), postgres as postgres (999), Grafana as 472, ours as
# saga (10001, deploy/Dockerfile). Brokers are servers to clients and clients to each other.
IDENTITIES='
kafka-1       1000   broker   DNS:kafka-1,DNS:localhost,IP:127.0.0.1
kafka-2       1000   broker   DNS:kafka-2,DNS:localhost,IP:127.0.0.1
kafka-3       1000   broker   DNS:kafka-3,DNS:localhost,IP:127.0.0.1
order         10001  client   -
inventory     10001  client   -
payment       10001  client   -
notification  10001  client   -
loadgen       10001  client   -
kafka-tool    10001  client   -
postgres      999    postgres DNS:postgres,DNS:localhost,IP:127.0.0.1
grafana       472    secret   -
prometheus    65534  monitor  -
'

CA_DAYS=1825
LEAF_DAYS=397
RENEW_SECONDS=$((30 * 24 * 3600))

log() { echo "make-pki: $*" >&2; }
die() { log "error: $*"; exit 1; }

(($# >= 1)) || die "usage: $0 OUT_DIR [IDENTITY...]"
OUT=$1
shift
command -v openssl >/dev/null || die "openssl is not installed"
CHOWN=${PKI_CHOWN:-true}
[[ $CHOWN == true || $CHOWN == false ]] || die "PKI_CHOWN must be true or false, not '$CHOWN'"

# Files appear whole or not at all: written under a temporary name in the same folder, then
# renamed, so a start interrupted half-way leaves nothing that looks made.
install_file() { # source target mode uid
    local source=$1 target=$2 mode=$3 uid=$4 staged
    staged="$(dirname "$target")/.$(basename "$target").new"
    cp "$source" "$staged"
    chmod "$mode" "$staged"
    if [[ $CHOWN == true ]]; then chown "$uid:$uid" "$staged"; fi
    mv -f "$staged" "$target"
}

random_secret() { openssl rand -hex 24; }

make_ca() {
    local dir=$OUT/ca work
    mkdir -p "$dir"
    if [[ -s $dir/ca.key && -s $dir/ca.crt ]] && openssl x509 -in "$dir/ca.crt" -noout -checkend "$RENEW_SECONDS" >/dev/null; then
        return
    fi
    log "making the certificate authority"
    work=$(mktemp -d)
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$work/ca.key" -sha256 -days "$CA_DAYS" -subj "/O=order-saga/CN=order-saga compose CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$work/ca.crt"
    install_file "$work/ca.key" "$dir/ca.key" 0400 0
    install_file "$work/ca.crt" "$dir/ca.crt" 0444 0
    rm -rf "$work"
}

# A certificate is kept while this CA signed it, it has its key, and it does not expire soon.
still_good() { # dir
    local dir=$1
    [[ -s $dir/tls.crt && -s $dir/tls.key ]] || return 1
    openssl verify -CAfile "$OUT/ca/ca.crt" "$dir/tls.crt" >/dev/null 2>&1 || return 1
    openssl x509 -in "$dir/tls.crt" -noout -checkend "$RENEW_SECONDS" >/dev/null
}

make_leaf() { # name uid kind sans
    local name=$1 uid=$2 kind=$3 sans=$4 dir=$OUT/$1 work usage
    work=$(mktemp -d)
    case $kind in
        broker) usage="serverAuth,clientAuth" ;;
        postgres) usage="serverAuth" ;;
        client) usage="clientAuth" ;;
    esac
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/tls.key" 2>/dev/null
    openssl req -new -key "$work/tls.key" -subj "/CN=$name" -out "$work/tls.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$usage"
        if [[ $sans != - ]]; then echo "subjectAltName=$sans"; fi
    } >"$work/ext.cnf"
    openssl x509 -req -in "$work/tls.csr" -CA "$OUT/ca/ca.crt" -CAkey "$OUT/ca/ca.key" -CAcreateserial \
        -CAserial "$work/ca.srl" -sha256 -days "$LEAF_DAYS" -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null
    if [[ $kind == broker ]]; then
        # Kafka (Java) reads its key from a PKCS#12 keystore whose password it takes from a file
        # (a config provider, docker-compose.yml); the PEM pair is for librdkafka.
        openssl pkcs12 -export -in "$work/tls.crt" -inkey "$work/tls.key" -name "$name" \
            -passout "file:$dir/keystore.password" -out "$work/keystore.p12"
        install_file "$work/keystore.p12" "$dir/keystore.p12" 0400 "$uid"
    fi
    install_file "$work/tls.key" "$dir/tls.key" 0400 "$uid"
    install_file "$work/tls.crt" "$dir/tls.crt" 0444 "$uid"
    rm -rf "$work"
}

# A secret that, once made, stays: a new one would lock out what was set up with the old one
# (PostgreSQL's superuser password lives in its data volume from the first start on).
make_secret() { # dir file uid
    local target=$1/$2 work
    [[ -s $target ]] && return
    work=$(mktemp)
    random_secret | tr -d '\n' >"$work"
    install_file "$work" "$target" 0400 "$3"
    rm -f "$work"
}

# The application's keys (Services/Security.md): one set for the deployment, made once by
# saga-admin and kept in pki-ca; each identity gets only its share. A service: the JWKS its
# callers' tokens are checked with, the keyring, its own event-signing key. The load generator:
# the token issuer's key (it mints its customers' tokens) and the keyring. kafka-tool: the
# operators' event key (replays) and the keyring. Prometheus: a monitor token, minted anew at
# each start (a year's worth).
SAGA_ADMIN=${SAGA_ADMIN:-saga-admin}
APP_KEYS=${PKI_APP_KEYS:-true}
[[ $APP_KEYS == true || $APP_KEYS == false ]] || die "PKI_APP_KEYS must be true or false, not '$APP_KEYS'"
make_app_keys() {
    local keys=$OUT/ca/app-keys
    if [[ $APP_KEYS == false ]]; then
        log "application keys left out (PKI_APP_KEYS=false): certificates only"
        return
    fi
    [[ -s $keys/keyring.json ]] && return
    command -v "$SAGA_ADMIN" >/dev/null || die "saga-admin not found (SAGA_ADMIN=$SAGA_ADMIN)"
    log "making the application keys (tokens, event signatures)"
    "$SAGA_ADMIN" keys init --dir "$keys" >/dev/null
}

app_keys_of() { # name uid kind dir
    local name=$1 uid=$2 kind=$3 dir=$4 keys=$OUT/ca/app-keys work
    [[ $APP_KEYS == true ]] || return 0
    case $name in
        order | inventory | payment | notification)
            install_file "$keys/jwks.json" "$dir/jwks.json" 0444 "$uid"
            install_file "$keys/keyring.json" "$dir/keyring.json" 0444 "$uid"
            install_file "$keys/events/$name.key" "$dir/event-signing.key" 0400 "$uid"
            ;;
        loadgen)
            install_file "$keys/token-issuer.jwk" "$dir/token-issuer.jwk" 0400 "$uid"
            install_file "$keys/keyring.json" "$dir/keyring.json" 0444 "$uid"
            ;;
        kafka-tool)
            install_file "$keys/events/operator.key" "$dir/event-signing.key" 0400 "$uid"
            install_file "$keys/keyring.json" "$dir/keyring.json" 0444 "$uid"
            ;;
    esac
    if [[ $kind == monitor ]]; then
        work=$(mktemp)
        "$SAGA_ADMIN" token --keys "$keys" --role monitor --subject "$name" --ttl-seconds 31536000 >"$work"
        install_file "$work" "$dir/monitor.token" 0400 "$uid"
        rm -f "$work"
    fi
}

make_identity() { # name uid kind sans
    local name=$1 uid=$2 kind=$3 sans=$4 dir=$OUT/$1
    mkdir -p "$dir"
    chmod 0755 "$dir"
    install_file "$OUT/ca/ca.crt" "$dir/ca.crt" 0444 "$uid"
    app_keys_of "$name" "$uid" "$kind" "$dir"
    case $kind in
        secret) make_secret "$dir" admin.password "$uid"; return ;;
        monitor) return ;;
        broker) make_secret "$dir" keystore.password "$uid" ;;
        postgres) make_secret "$dir" superuser.password "$uid" ;;
    esac
    if still_good "$dir"; then return; fi
    log "making $name ($kind)"
    make_leaf "$name" "$uid" "$kind" "$sans"
}

known=()
while read -r name _; do [[ -z $name ]] || known+=("$name"); done <<<"$IDENTITIES"
for name in "$@"; do
    [[ " ${known[*]} " == *" $name "* ]] || die "unknown identity '$name'; known: ${known[*]}"
done

make_ca
make_app_keys
while read -r name uid kind sans; do
    [[ -n $name ]] || continue
    if (($#)) && [[ " $* " != *" $name "* ]]; then continue; fi
    make_identity "$name" "$uid" "$kind" "$sans"
done <<<"$IDENTITIES"
log "done: $OUT"
