#!/usr/bin/env bash
# A throwaway PostgreSQL server for PostgresTLSTests, set up as the compose stack's is: TLS
# with a certificate from deploy/pki/make-pki.sh, deploy/postgres/pg_hba.conf (client
# certificates only over TCP), pg_ident.conf and init.sql. Listens on 127.0.0.1 and
# 127.0.0.2, so a test can dial an address the certificate does not name. Runs as root.
#
#   .ci/postgres-tls.sh start DIR PORT   # DIR/pki: the CA and identities; DIR/other-pki: another CA
#   .ci/postgres-tls.sh stop DIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "postgres-tls.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

(($# >= 2)) || die "usage: $0 start DIR PORT | stop DIR"
ACTION=$1
DIR=$2
[ "$(id -u)" -eq 0 ] || die "must run as root (the server runs as the postgres user)"
BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
[[ -x $BIN/initdb ]] || die "no PostgreSQL server installed (bash .ci/postgres.sh installs one)"
as_postgres() { (cd / && runuser -u postgres -- "$@" </dev/null); }

case $ACTION in
    stop)
        if [[ -f $DIR/data/postmaster.pid ]]; then as_postgres "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null; fi
        exit 0 ;;
    start) ;;
    *) die "unknown action '$ACTION' (start or stop)" ;;
esac
(($# == 3)) || die "usage: $0 start DIR PORT"
PORT=$3

mkdir -p "$DIR"
PKI_CHOWN=false PKI_APP_KEYS=false bash "$ROOT/deploy/pki/make-pki.sh" "$DIR/pki" postgres order inventory kafka-tool 2>/dev/null
PKI_CHOWN=false PKI_APP_KEYS=false bash "$ROOT/deploy/pki/make-pki.sh" "$DIR/other-pki" postgres order 2>/dev/null
# The server's key must belong to the server's user (PostgreSQL refuses it otherwise).
chown -R postgres:postgres "$DIR/pki/postgres"
chmod 0755 "$DIR" "$DIR/pki"
install -d -o postgres -g postgres "$DIR/socket" "$DIR/log"

if [[ ! -f $DIR/data/PG_VERSION ]]; then
    install -d -o postgres -g postgres -m 0700 "$DIR/data"
    as_postgres "$BIN/initdb" -D "$DIR/data" --auth-local=peer --auth-host=reject -U postgres >/dev/null
fi
# The server must not keep this script's inherited descriptors open: a parent that watches one
# for its end (Foundation's Process does) would otherwise wait for the server, not the script.
close_inherited() {
    local path fd
    for path in /proc/"$BASHPID"/fd/*; do
        fd=${path##*/}
        if ((fd > 2 && fd != 255)); then exec {fd}>&- 2>/dev/null || true; fi
    done
}
(close_inherited; as_postgres "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log/server.log" -w -t 60 start -o "$(printf '%s ' \
    -c "port=$PORT" -c "listen_addresses=127.0.0.1,127.0.0.2" -c "unix_socket_directories=$DIR/socket" \
    -c ssl=on -c "ssl_cert_file=$DIR/pki/postgres/tls.crt" -c "ssl_key_file=$DIR/pki/postgres/tls.key" \
    -c "ssl_ca_file=$DIR/pki/postgres/ca.crt" -c ssl_min_protocol_version=TLSv1.3 \
    -c "hba_file=$ROOT/deploy/postgres/pg_hba.conf" -c "ident_file=$ROOT/deploy/postgres/pg_ident.conf")" >/dev/null) ||
    die "the server did not start; see $DIR/log/server.log"
as_postgres psql --no-psqlrc -X -q -v ON_ERROR_STOP=1 -h "$DIR/socket" -p "$PORT" -U postgres -d postgres \
    -f "$ROOT/deploy/postgres/init.sql" >/dev/null
