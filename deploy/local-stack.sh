#!/usr/bin/env bash
# The whole platform on one machine, no Docker: the embedded dev cluster (librdkafka's mock,
# 3 brokers) and the four services on SQLite (or PostgreSQL), then load with the audit.
#
#   deploy/local-stack.sh                      # build (release), start, 200 orders/s for 30 s, audit, stop
#   deploy/local-stack.sh --keep-running       # ... and leave it running (stop: deploy/local-stack.sh --stop RUN_DIR)
#   deploy/local-stack.sh --rate 1000 --duration 60 --partitions 36   # 60,000 orders outgrow 12 partitions
#   deploy/local-stack.sh --instances 2 --postgres postgres://saga:saga@127.0.0.1:5432   # scale-out on PostgreSQL
#   deploy/local-stack.sh --skip-load --users --data-tmpfs 64m   # for deploy/chaos.sh's network and disk faults
#
# Everything of one run lives in its run folder (default run/<timestamp>): databases, logs of
# every process, pid files, the bootstrap and control files, the seed catalog, the load report.
# deploy/chaos.sh reads the same folder to inject faults into a running stack.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RATE=200
DURATION=30
RUN_DIR=""
KEEP_RUNNING=0
BUILD=1
CONFIGURATION=release
BIN_DIR=""
BASE_PORT=8080
INSTANCES=1
POSTGRES=""
SKIP_LOAD=0
SAGA_TIMEOUT_MS=30000
LOADGEN_ARGS=()
STOP_DIR=""
USERS=0
DATA_TMPFS=""
PARTITIONS=""

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --rate N              orders per second (default 200)
  --duration S          seconds of load (default 30)
  --run-dir DIR         run folder (default run/<timestamp>)
  --keep-running        leave the stack running after the load
  --skip-load           start the stack only (implies --keep-running)
  --no-build            use binaries already built
  --debug               use the debug build instead of release
  --bin-dir DIR         take the executables from DIR (implies --no-build)
  --base-port P         HTTP ports P..P+3 for order, inventory, payment, notification (default 8080);
                        instance k (from 0) adds 10*k
  --instances N         instances of each service (default 1; >1 needs --postgres)
  --partitions N        partitions of every topic of the dev cluster (default: dev-cluster's, 12); it keeps
                        only ~5 MiB per partition, so runs past ~30,000 orders need more (~1.6 KB/order)
  --postgres URL        postgres://user:pw@host:port[?options]: one database per service, saga_<service>,
                        dropped and created afresh (the role needs CREATEDB); options go to every
                        database URL, e.g. ?sslmode=verify-full&sslrootcert=ca.crt as in compose
  --saga-timeout-ms MS  Order's saga deadline (default 30000)
  --users               (root) run each instance as its own system user saga-<service>-<k> (created
                        when missing, group saga), so that iptables rules can single out one instance
  --data-tmpfs SIZE     (root) put data/ on a tmpfs of SIZE (e.g. 64m) that can fill up; --stop unmounts it
  --loadgen ARG         an extra argument for `loadgen run` (repeatable)
  --stop DIR            stop the stack running from run folder DIR and exit
EOF
}

while (($#)); do
    case "$1" in
        --rate) RATE=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --run-dir) RUN_DIR=$2; shift 2 ;;
        --keep-running) KEEP_RUNNING=1; shift ;;
        --skip-load) SKIP_LOAD=1; KEEP_RUNNING=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --debug) CONFIGURATION=debug; shift ;;
        --bin-dir) BIN_DIR=$2; BUILD=0; shift 2 ;;
        --base-port) BASE_PORT=$2; shift 2 ;;
        --instances) INSTANCES=$2; shift 2 ;;
        --partitions) PARTITIONS=$2; shift 2 ;;
        --postgres) POSTGRES=$2; shift 2 ;;
        --saga-timeout-ms) SAGA_TIMEOUT_MS=$2; shift 2 ;;
        --users) USERS=1; shift ;;
        --data-tmpfs) DATA_TMPFS=$2; shift 2 ;;
        --loadgen) LOADGEN_ARGS+=("$2"); shift 2 ;;
        --stop) STOP_DIR=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "local-stack: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '%s local-stack: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Stops every process whose pid file is in $1/pids: services first (SIGTERM, they finish their
# batch and flush), the dev cluster last.
stop_stack() {
    local dir=$1 pidfile pid
    [[ -d $dir/pids ]] || return 0
    for pidfile in "$dir"/pids/*.pid; do
        [[ -e $pidfile && $pidfile != */dev-cluster.pid ]] || continue
        pid=$(<"$pidfile")
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pidfile in "$dir"/pids/*.pid; do
        [[ -e $pidfile && $pidfile != */dev-cluster.pid ]] || continue
        wait_gone "$(<"$pidfile")" 30 || { log "$(basename "$pidfile" .pid) did not stop in 30 s: SIGKILL"; kill -KILL "$(<"$pidfile")" 2>/dev/null || true; }
        rm -f "$pidfile"
    done
    if [[ -e $dir/pids/dev-cluster.pid ]]; then
        pid=$(<"$dir/pids/dev-cluster.pid")
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 15 || kill -KILL "$pid" 2>/dev/null || true
        rm -f "$dir/pids/dev-cluster.pid"
    fi
    if mountpoint -q "$dir/data" 2>/dev/null; then
        umount "$dir/data" || log "cannot unmount the tmpfs on $dir/data"
    fi
}

wait_gone() {
    local pid=$1 seconds=$2 i
    for ((i = 0; i < seconds * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

if [[ -n $STOP_DIR ]]; then
    [[ -z $PARTITIONS ]] || die "--partitions shapes the dev cluster a run starts; --stop starts none: drop --partitions"
    stop_stack "$STOP_DIR"
    log "stopped the stack of $STOP_DIR"
    exit 0
fi

[[ $INSTANCES =~ ^[1-9][0-9]*$ ]] || die "--instances must be a positive integer"
if [[ -n $PARTITIONS ]]; then
    if [[ ! $PARTITIONS =~ ^[1-9][0-9]{0,4}$ ]] || ((PARTITIONS > 10000)); then
        die "--partitions takes a whole number of partitions from 1 to 10000 (dev-cluster's limit), got '$PARTITIONS'"
    fi
    # An instance that holds no partition reports not ready, and the start would wait for it in vain.
    ((INSTANCES <= PARTITIONS)) || die "--instances $INSTANCES needs at least $INSTANCES partitions (an instance without one is not ready): raise --partitions"
fi
if ((INSTANCES > 1)) && [[ -z $POSTGRES ]]; then
    die "several instances of a service share one database: add --postgres postgres://user:pw@host:port"
fi
if ((USERS)) || [[ -n $DATA_TMPFS ]]; then
    ((EUID == 0)) || die "--users and --data-tmpfs create users, switch to them and mount: run as root"
fi
[[ -z $DATA_TMPFS || $DATA_TMPFS =~ ^[1-9][0-9]*[kmg]$ ]] || die "--data-tmpfs takes a size like 64m (k, m or g), got '$DATA_TMPFS'"
[[ $SAGA_TIMEOUT_MS =~ ^[1-9][0-9]*$ ]] || die "--saga-timeout-ms must be a positive integer"

# --- what a fresh Debian machine lacks -------------------------------------------------------
install_missing() {
    local packages=()
    command -v pkg-config >/dev/null || packages+=(pkg-config)
    pkg-config --exists rdkafka 2>/dev/null || packages+=(librdkafka-dev)
    pkg-config --exists sqlite3 2>/dev/null || packages+=(libsqlite3-dev)
    # A release build links Foundation statically; its networking part needs libcurl's headers.
    if [[ $CONFIGURATION == release ]] && ((BUILD)); then
        pkg-config --exists libcurl 2>/dev/null || packages+=(libcurl4-openssl-dev)
    fi
    command -v curl >/dev/null || packages+=(curl)
    if [[ -n $POSTGRES ]] && ! command -v psql >/dev/null; then packages+=(postgresql-client); fi
    if ((${#packages[@]})); then
        log "installing ${packages[*]}"
        local sudo=""
        ((EUID == 0)) || sudo=sudo
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
    command -v swift >/dev/null || [[ -n $BIN_DIR ]] || die "swift is not on PATH: install the Swift 6 toolchain (swift.org) first"
}
install_missing

if [[ -z $BIN_DIR ]]; then
    build_flags=(-c "$CONFIGURATION")
    # Release binaries carry the Swift runtime, as the container image's do (deploy/Dockerfile):
    # the same binaries run here, and a process starts in half the time.
    if [[ $CONFIGURATION == release ]]; then build_flags+=(--static-swift-stdlib); fi
    if ((BUILD)); then
        log "building ($CONFIGURATION)"
        # Product by product (`swift build` takes only the last of several --product flags): a
        # build of everything would include the test-support targets, and swift-property-based
        # needs the Testing module, which a --static-swift-stdlib build does not have.
        for product in dev-cluster order-service inventory-service payment-service notification-service loadgen kafka-tool saga-admin saga-console; do
            (cd "$ROOT" && swift build "${build_flags[@]}" --product "$product" >&2)
        done
    fi
    BIN_DIR=$(cd "$ROOT" && swift build "${build_flags[@]}" --show-bin-path)
fi
BIN_DIR=$(cd "$BIN_DIR" && pwd) || die "no folder $BIN_DIR (--bin-dir)"
for exe in dev-cluster order-service inventory-service payment-service notification-service loadgen saga-admin; do
    [[ -x $BIN_DIR/$exe ]] || die "no $exe in $BIN_DIR; build first (drop --no-build)"
done

# --- the run folder ------------------------------------------------------------------------
[[ -n $RUN_DIR ]] || RUN_DIR=$ROOT/run/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"/{logs,pids,data}
RUN_DIR=$(cd "$RUN_DIR" && pwd)
log "run folder $RUN_DIR"

# One system user per instance: its traffic can then be matched by `iptables -m owner`.
user_of() { echo "saga-$1"; }
ensure_user() {
    getent group saga >/dev/null || groupadd --system saga
    id -u "$1" >/dev/null 2>&1 || useradd --system --gid saga --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$1" || die "cannot create the user $1"
}
if [[ -n $DATA_TMPFS ]]; then
    mountpoint -q "$RUN_DIR/data" && die "$RUN_DIR/data is a mount point already: stop its stack first"
    mount -t tmpfs -o "size=$DATA_TMPFS,mode=0775" tmpfs "$RUN_DIR/data" || die "cannot mount a tmpfs on $RUN_DIR/data"
    log "data on a tmpfs of $DATA_TMPFS"
fi
if ((USERS)); then
    getent group saga >/dev/null || groupadd --system saga
    # The instances write their databases and notification files here, and nothing else.
    chgrp saga "$RUN_DIR/data" && chmod 2775 "$RUN_DIR/data"
    dir=$RUN_DIR
    while [[ $dir != / ]]; do
        [[ $(stat -c %A "$dir") == *[xt] ]] || die "the instances' users cannot reach $RUN_DIR: $dir is not searchable by others (chmod o+x or another --run-dir)"
        dir=$(dirname "$dir")
    done
fi

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local status=$?
    if ((KEEP_RUNNING == 0 || status != 0)); then
        log "stopping"
        stop_stack "$RUN_DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN_DIR/loadgen" seed --out "$RUN_DIR/seed.json" >&2

# --- keys ----------------------------------------------------------------------------------
# A fresh set per run: the token issuer's key pair (the services verify tokens with jwks.json;
# saga-admin and the load generator mint with token-issuer.jwk), every service's event-signing
# key and the keyring. Private keys are 0600; with --users each instance gets its own copy.
KEYS_DIR=$RUN_DIR/keys
"$BIN_DIR/saga-admin" keys init --dir "$KEYS_DIR" >&2
chmod 0711 "$KEYS_DIR" "$KEYS_DIR/events"

# --- dev cluster ---------------------------------------------------------------------------
rm -f "$RUN_DIR/bootstrap" "$RUN_DIR/control"
cluster_args=(--bootstrap-file "$RUN_DIR/bootstrap" --control-file "$RUN_DIR/control" --log-level notice)
[[ -z $PARTITIONS ]] || cluster_args+=(--partitions "$PARTITIONS")
"$BIN_DIR/dev-cluster" "${cluster_args[@]}" >"$RUN_DIR/logs/dev-cluster.log" 2>&1 &
echo $! >"$RUN_DIR/pids/dev-cluster.pid"
for ((i = 0; i < 300; i++)); do
    [[ -s $RUN_DIR/bootstrap && -s $RUN_DIR/control ]] && break
    kill -0 "$(<"$RUN_DIR/pids/dev-cluster.pid")" 2>/dev/null || die "dev-cluster exited: $(tail -5 "$RUN_DIR/logs/dev-cluster.log")"
    sleep 0.1
done
[[ -s $RUN_DIR/bootstrap ]] || die "dev-cluster wrote no bootstrap file in 30 s"
log "dev cluster up: $(<"$RUN_DIR/bootstrap"), control $(<"$RUN_DIR/control")${PARTITIONS:+, $PARTITIONS partitions per topic}"

# --- databases -----------------------------------------------------------------------------
SERVICES=(order inventory payment notification)
# --postgres is a server URL, perhaps with query options (TLS: sslmode, sslrootcert, sslcert,
# sslkey, as compose's services use them): the database name goes before the options.
POSTGRES_BASE=${POSTGRES%%\?*}
POSTGRES_BASE=${POSTGRES_BASE%/}
POSTGRES_QUERY=""
if [[ $POSTGRES == *\?* ]]; then POSTGRES_QUERY="?${POSTGRES#*\?}"; fi
postgres_url() { echo "$POSTGRES_BASE/$1$POSTGRES_QUERY"; }
# psql (libpq) refuses options it does not know: the services' own (pool_size,
# prepared_statements, lock_timeout_ms, ...) stay out of its URL.
psql_url() {
    local query="" item items=()
    IFS='&' read -ra items <<<"${POSTGRES_QUERY#\?}"
    for item in "${items[@]}"; do
        case ${item%%=*} in
            sslmode | sslrootcert | sslcert | sslkey | connect_timeout | application_name | keepalives*) query+="${query:+&}$item" ;;
        esac
    done
    echo "$POSTGRES_BASE/$1${query:+?$query}"
}
database_url() {
    local service=$1
    if [[ -n $POSTGRES ]]; then
        postgres_url "saga_$service"
    else
        echo "sqlite://$RUN_DIR/data/$service.db"
    fi
}
# A new dev cluster starts with empty topics, so every run starts with empty databases too
# (offsets stored by an earlier run would point past the new topics' ends).
# An autovacuum worker still busy in the old database belongs to no role, so a role without
# pg_signal_backend cannot terminate it and DROP ... WITH (FORCE) fails: try again while it ends.
recreate_database() {
    local name=$1 attempt error
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if error=$(psql "$(psql_url postgres)" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" 2>&1 >/dev/null); then
            psql "$(psql_url postgres)" -qc "CREATE DATABASE $name" >/dev/null
            return
        fi
        log "dropping $name failed (attempt $attempt): $error"
        sleep 1
    done
    die "cannot drop database $name: $error"
}
if [[ -n $POSTGRES ]]; then
    for service in "${SERVICES[@]}"; do recreate_database "saga_$service"; done
fi

# --- services ------------------------------------------------------------------------------
port_of() { # service instance
    local offset
    case $1 in order) offset=0 ;; inventory) offset=1 ;; payment) offset=2 ;; notification) offset=3 ;; esac
    echo $((BASE_PORT + offset + 10 * $2))
}

# Each instance's command line is kept in cmd/NAME so that chaos.sh can restart it after a SIGKILL.
mkdir -p "$RUN_DIR/cmd"
start_service() { # service instance
    local service=$1 instance=$2 name="$1-$2"
    local key=$KEYS_DIR/events/$service.key
    if ((USERS)); then
        ensure_user "$(user_of "$name")"
        mkdir -p "$KEYS_DIR/instances" && chmod 0711 "$KEYS_DIR/instances"
        key=$KEYS_DIR/instances/$name.key
        install -m 0600 -o "$(user_of "$name")" -g saga "$KEYS_DIR/events/$service.key" "$key"
    fi
    local args=(--database "$(database_url "$service")" --bootstrap-file "$RUN_DIR/bootstrap" --dev-cluster-tuning true
        --http-port "$(port_of "$service" "$instance")" --instance-id "$name" --log-level "${LOG_LEVEL:-info}"
        --jwks "$KEYS_DIR/jwks.json" --keyring-file "$KEYS_DIR/keyring.json" --signing-key-file "$key")
    [[ $service == notification ]] || args+=(--seed-file "$RUN_DIR/seed.json")
    [[ $service != order ]] || args+=(--saga-timeout-ms "$SAGA_TIMEOUT_MS")
    [[ $service != notification ]] || args+=(--channel file --notification-file "$RUN_DIR/data/notifications-$instance.jsonl")
    # setpriv execs (no child process), so $! stays the service's pid for chaos.sh's signals.
    local launcher=()
    if ((USERS)); then
        ensure_user "$(user_of "$name")"
        launcher=(setpriv "--reuid=$(user_of "$name")" --regid=saga --init-groups --)
    fi
    printf '%q ' "${launcher[@]}" "$BIN_DIR/$service-service" "${args[@]}" >"$RUN_DIR/cmd/$name"
    "${launcher[@]}" "$BIN_DIR/$service-service" "${args[@]}" >>"$RUN_DIR/logs/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/pids/$name.pid"
}

wait_ready() { # service instance
    local url name="$1-$2" i
    url="http://127.0.0.1:$(port_of "$1" "$2")/readyz"
    for ((i = 0; i < 600; i++)); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        kill -0 "$(<"$RUN_DIR/pids/$name.pid")" 2>/dev/null || die "$name exited: $(tail -5 "$RUN_DIR/logs/$name.log")"
        sleep 0.1
    done
    die "$name not ready after 60 s: $(tail -5 "$RUN_DIR/logs/$name.log")"
}

for ((instance = 0; instance < INSTANCES; instance++)); do
    for service in "${SERVICES[@]}"; do start_service "$service" "$instance"; done
done
for ((instance = 0; instance < INSTANCES; instance++)); do
    for service in "${SERVICES[@]}"; do wait_ready "$service" "$instance"; done
done
instance_urls=()
for ((instance = 0; instance < INSTANCES; instance++)); do
    for service in "${SERVICES[@]}"; do instance_urls+=("$service-$instance=http://127.0.0.1:$(port_of "$service" "$instance")"); done
done
{
    echo "BIN_DIR=$BIN_DIR"
    echo "INSTANCES=$INSTANCES"
    for service in "${SERVICES[@]}"; do echo "${service^^}_URL=http://127.0.0.1:$(port_of "$service" 0)"; done
    echo "INSTANCE_URLS=\"${instance_urls[*]}\""
    echo "POSTGRES=$POSTGRES"
    echo "KEYS_DIR=$KEYS_DIR"
    echo "SAGA_TIMEOUT_MS=$SAGA_TIMEOUT_MS"
    echo "USERS=$USERS"
    echo "DATA_TMPFS=$DATA_TMPFS"
} >"$RUN_DIR/stack.env"
log "services ready: order $(port_of order 0), inventory $(port_of inventory 0), payment $(port_of payment 0), notification $(port_of notification 0)"

if ((SKIP_LOAD)); then
    log "running; tokens: $BIN_DIR/saga-admin token --keys $KEYS_DIR --role customer --subject C-00001 (or --role operator --subject you)"
    log "console: $BIN_DIR/saga-console --bootstrap-file $RUN_DIR/bootstrap --dev-cluster --jwks $KEYS_DIR/jwks.json --keyring-file $KEYS_DIR/keyring.json --signing-key-file $KEYS_DIR/events/operator.key (http://127.0.0.1:8090)"
    log "running; stop with: $0 --stop $RUN_DIR"
    exit 0
fi

# --- load and audit ------------------------------------------------------------------------
log "load: $RATE orders/s for $DURATION s"
set +e
"$BIN_DIR/loadgen" run --bootstrap-file "$RUN_DIR/bootstrap" --dev-cluster-tuning true --seed-file "$RUN_DIR/seed.json" \
    --order-url "http://127.0.0.1:$(port_of order 0)" --inventory-url "http://127.0.0.1:$(port_of inventory 0)" \
    --payment-url "http://127.0.0.1:$(port_of payment 0)" --notification-url "http://127.0.0.1:$(port_of notification 0)" \
    --keys "$KEYS_DIR" --rate "$RATE" --duration "$DURATION" --report "$RUN_DIR/report.json" "${LOADGEN_ARGS[@]}"
status=$?
set -e
log "load generator exited with $status; report $RUN_DIR/report.json, logs $RUN_DIR/logs"
if ((KEEP_RUNNING)); then log "still running; stop with: $0 --stop $RUN_DIR"; fi
exit "$status"
