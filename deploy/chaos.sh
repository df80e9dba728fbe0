#!/usr/bin/env bash
# Breaks the platform on purpose while the load generator runs, then lets the audit and the
# liveness check judge: the exit status is the load generator's (non-zero on a violated
# invariant, an anomaly, a lost order or a fault the system did not recover from in time).
#
#   deploy/chaos.sh --local run/20261122-101500        # a stack started by local-stack.sh --keep-running
#   deploy/chaos.sh --compose                          # the docker-compose stack (deploy/docker-compose.yml)
#   docker compose -f deploy/docker-compose.yml run --rm chaos     # the same, from the stack's chaos container
#   deploy/chaos.sh --matrix --bin-dir .build/release  # every fault class once, each on a fresh local stack
#   deploy/chaos.sh --heal [--local RUN_DIR]           # remove whatever a killed run left behind
#
# Rotation (--local, --compose): one fault per --interval seconds, in a fixed rotation of the
# kinds given with --faults: broker (pause a broker, --brokers one|random|all), leaders (move
# leadership off a broker and back), cluster (SIGSTOP the whole dev cluster), kill (SIGKILL a
# service and start it again), or any fault class of the matrix below (local only).
# Matrix (--matrix): per class, a fresh stack (local-stack.sh --users), constant load, then
# steady state, fault, heal, recovery; one table at the end, and JSON. Classes: see --help.
# Every fault is written to the run folder's fault-windows.jsonl, which `loadgen run` reads.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null
source "$ROOT/deploy/chaos/windows.sh"
# shellcheck source=/dev/null
source "$ROOT/deploy/chaos/evidence.sh"
# shellcheck source=/dev/null
source "$ROOT/deploy/chaos/net.sh"
# shellcheck source=/dev/null
source "$ROOT/deploy/chaos/instances.sh"
# shellcheck source=/dev/null
source "$ROOT/deploy/chaos/postgres.sh"
# shellcheck source=/dev/null
source "$ROOT/deploy/chaos/faults.sh"

MODE=""
RUN_DIR=""
COMPOSE_FILE=$ROOT/deploy/docker-compose.yml
DURATION=90
RATE=""
INTERVAL=10
PAUSE=5
BROKERS_MODE=one
KINDS="broker,leaders,cluster,kill"
DRAIN_TIMEOUT=120
REQUIRE_DUPLICATES=0
SEED=$$
KILL_INSTANCE=0
LOADGEN_ARGS=()
RECOVERY_BOUND=60
# Read by the fault classes (deploy/chaos/faults.sh).
# shellcheck disable=SC2034
{
    TARGET=payment
    RTT_MS=500
    LOSS=0.3
    CLOCK_OFFSET=600
    LEADER_BROKER=2
}
MATRIX_DIR=""
MATRIX_BIN_DIR=""
CLASSES=""
STEADY=20
FAULT=20
RECOVERY=40
DISK_SIZE=64m
STACK_ARGS=()

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --local RUN_DIR        target the local stack of RUN_DIR      --compose  target docker compose
  --compose-file FILE    (default deploy/docker-compose.yml)
  --run-dir DIR          (compose) where the timeline and report go (default run/chaos-compose-<timestamp>,
                         or under $CHAOS_REPORTS in the chaos container)
  --duration S           seconds of load (rotation; default 90)
  --rate N               orders/s (default 100; matrix 50)
  --interval S           seconds between faults (default 10)   --pause S  length of a fault (default 5)
  --brokers one|random|all   which brokers a broker fault pauses (default one)
  --faults LIST          kinds, comma-separated (default broker,leaders,cluster,kill; compose: broker,kill)
  --drain-timeout S      bound on the wait for the system to drain (default 120)
  --recovery-bound S     a heal after which orders are not all terminal and consumers caught up
                         within S seconds is a HANG (default 60)
  --require-duplicates   also fail if the consumers absorbed no duplicate (the faults were not felt)
  --random-seed N        for --brokers random
  --kill-instance K      (local) which instance of a service a kill fault hits (default 0; the load
                         generator talks to instance 0, so K=1 keeps its HTTP calls flowing)
  --target SERVICE       the service whose instance the instance and network faults hit: its relay
                         lease holder (default payment)
  --rtt-ms N             broker-rtt: the delay (default 500)  --loss P  brokers-loss: share of packets (default 0.3)
  --clock-offset S       clock faults: seconds ahead or behind (default 600)
  --loadgen ARG          an extra argument for `loadgen run` (repeatable)
Matrix:
  --matrix               run the fault matrix; needs root (users, iptables, tmpfs)
  --bin-dir DIR          the built executables (required with --matrix)
  --classes LIST         fault classes, comma-separated (default: every class the backend supports)
  --steady S --fault S --recovery S   the phases of each cell (default 20 / 20 / 40)
  --matrix-dir DIR       where the cells' run folders and the table go (default run/matrix-<time>)
  --disk-size SIZE       the tmpfs of the disk-full cell (default 64m)
  -- ARGS                local-stack.sh options for every cell's stack, e.g. -- --postgres URL --instances 2
Fault classes: broker-pause broker-pause-all leader-move cluster-stop brokers-blackhole brokers-reject
  brokers-loss broker-rtt database-blackhole instance-pause kill-mid-round postgres-restart postgres-stop
  lock-holder-pause disk-full clock-ahead:SERVICE clock-behind:SERVICE (README.md, "The fault matrix")
EOF
}

# shellcheck disable=SC2034  # some options are read by the fault classes (deploy/chaos/faults.sh)
while (($#)); do
    case "$1" in
        # --heal names what to heal with --local, in either order: it keeps its mode.
        --local) [[ $MODE == heal ]] || MODE=local; RUN_DIR=$2; shift 2 ;;
        --compose) MODE=compose; shift ;;
        --run-dir) RUN_DIR=$2; shift 2 ;;
        --matrix) MODE=matrix; shift ;;
        --heal) MODE=heal; shift ;;
        --compose-file) COMPOSE_FILE=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --interval) INTERVAL=$2; shift 2 ;;
        --pause) PAUSE=$2; shift 2 ;;
        --brokers) BROKERS_MODE=$2; shift 2 ;;
        --faults) KINDS=$2; shift 2 ;;
        --drain-timeout) DRAIN_TIMEOUT=$2; shift 2 ;;
        --recovery-bound) RECOVERY_BOUND=$2; shift 2 ;;
        --require-duplicates) REQUIRE_DUPLICATES=1; shift ;;
        --random-seed) SEED=$2; shift 2 ;;
        --kill-instance) KILL_INSTANCE=$2; shift 2 ;;
        --target) TARGET=$2; shift 2 ;;
        --rtt-ms) RTT_MS=$2; shift 2 ;;
        --loss) LOSS=$2; shift 2 ;;
        --clock-offset) CLOCK_OFFSET=$2; shift 2 ;;
        --loadgen) LOADGEN_ARGS+=("$2"); shift 2 ;;
        --bin-dir) MATRIX_BIN_DIR=$2; shift 2 ;;
        --classes) CLASSES=$2; shift 2 ;;
        --steady) STEADY=$2; shift 2 ;;
        --fault) FAULT=$2; shift 2 ;;
        --recovery) RECOVERY=$2; shift 2 ;;
        --matrix-dir) MATRIX_DIR=$2; shift 2 ;;
        --disk-size) DISK_SIZE=$2; shift 2 ;;
        --) shift; STACK_ARGS=("$@"); break ;;
        -h|--help) usage; exit 0 ;;
        *) echo "chaos: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "chaos: $*" >&2; exit 2; }
START=$(date +%s)
TIMELINE=/dev/null
event() { # what
    local line
    line=$(printf '+%4ss  %s' "$(($(date +%s) - START))" "$*")
    echo "$line" | tee -a "$TIMELINE" >&2
}

positive() { [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0)); }
case $BROKERS_MODE in one|random|all) ;; *) die "--brokers is one, random or all" ;; esac
[[ $TARGET =~ ^(order|inventory|payment|notification)$ ]] || die "--target is order, inventory, payment or notification"
[[ $LOSS =~ ^0?\.[0-9]+$|^1(\.0*)?$ ]] || die "--loss is a share of packets between 0 and 1, like 0.3"
[[ $RTT_MS =~ ^[0-9]+$ ]] || die "--rtt-ms is a whole number of milliseconds"
positive "$CLOCK_OFFSET" || die "--clock-offset is a positive number of seconds"
positive "$RECOVERY_BOUND" || die "--recovery-bound is a positive number of seconds"
for value in "$STEADY" "$FAULT" "$RECOVERY" "$INTERVAL" "$PAUSE" "$DURATION"; do
    positive "$value" || die "--steady, --fault, --recovery, --interval, --pause and --duration take whole seconds above 0, got '$value'"
done

# What the matrix and the network faults need beyond what local-stack.sh installs.
install_missing() { # commands...
    local packages=() command
    for command in "$@"; do
        command -v "$command" >/dev/null || packages+=("$command")
    done
    ((${#packages[@]})) || return 0
    ((EUID == 0)) || die "missing ${packages[*]}: install them (apt-get install ${packages[*]})"
    echo "chaos: installing ${packages[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
}

# Reads a local stack's run folder: the variables the fault classes use.
load_stack() { # run_dir
    RUN_DIR=$(cd "$1" && pwd)
    [[ -s $RUN_DIR/control && -s $RUN_DIR/stack.env ]] \
        || die "$RUN_DIR is not a running local stack (start one with deploy/local-stack.sh --keep-running)"
    # shellcheck disable=SC2034  # read by the fault classes
    INSTANCE_URLS="" POSTGRES="" USERS=0 SAGA_TIMEOUT_MS=30000 KEYS_DIR=""
    # shellcheck source=/dev/null
    source "$RUN_DIR/stack.env"
    [[ -n $KEYS_DIR ]] || die "$RUN_DIR/stack.env names no KEYS_DIR: start the stack with this version of deploy/local-stack.sh"
    CONTROL=$(<"$RUN_DIR/control")
    # The fault classes read /metrics as a monitor (a day's token, minted from the run's keys).
    # shellcheck disable=SC2034  # read by deploy/chaos/instances.sh
    MONITOR_TOKEN=$("$BIN_DIR/saga-admin" token --keys "$KEYS_DIR" --role monitor --subject chaos --ttl-seconds 86400)
    # shellcheck disable=SC2034  # read by the fault classes
    BOOTSTRAP_FILE=$RUN_DIR/bootstrap
    CHAIN=$(net_chain_of "$RUN_DIR")
    [[ -n $INSTANCE_URLS ]] || INSTANCE_URLS="order-0=$ORDER_URL inventory-0=$INVENTORY_URL payment-0=$PAYMENT_URL notification-0=$NOTIFICATION_URL"
    BROKER_COUNT=$(curl -fsS "$CONTROL/status" | grep -o '"id" *: *[0-9]*' | wc -l)
    ((BROKER_COUNT > 0)) || BROKER_COUNT=3
}

# Every instance's name=URL, for `loadgen run --instance`.
instance_args() {
    local entry
    for entry in $INSTANCE_URLS; do printf '%s\n' --instance "$entry"; done
}

start_loadgen() { # duration report windows ready_file steady_file
    local args
    mapfile -t args < <(instance_args)
    "$BIN_DIR/loadgen" run --bootstrap-file "$RUN_DIR/bootstrap" --dev-cluster-tuning true --seed-file "$RUN_DIR/seed.json" \
        --order-url "$ORDER_URL" --inventory-url "$INVENTORY_URL" --payment-url "$PAYMENT_URL" \
        --notification-url "$NOTIFICATION_URL" --keys "$KEYS_DIR" --rate "$RATE" --duration "$1" "${args[@]}" \
        --drain-timeout "$DRAIN_TIMEOUT" --report "$2" --fault-windows "$3" --ready-file "$4" --steady-file "$5" \
        --recovery-bound "$RECOVERY_BOUND" "${LOADGEN_ARGS[@]}" &
    LOADGEN_PID=$!
}

# Whatever a fault left on: healed on exit, also when this script is interrupted.
ACTIVE_FAULT=""
LOADGEN_PID=""
CELL_PID=""
CELL_STACK=""
# shellcheck disable=SC2317  # invoked by the traps
on_exit() {
    local status=$?
    trap - EXIT INT TERM
    [[ -n ${NAP_PID:-} ]] && kill "$NAP_PID" 2>/dev/null
    if [[ -n ${CELL_PID:-} ]]; then
        kill -TERM "$CELL_PID" 2>/dev/null || true
        wait "$CELL_PID" 2>/dev/null || true
    fi
    if [[ -n $ACTIVE_FAULT ]]; then
        event "healing $ACTIVE_FAULT on exit"
        fault_heal "$ACTIVE_FAULT" || true
    fi
    [[ -n ${CHAIN:-} ]] && net_teardown "$CHAIN"
    [[ -n ${LOADGEN_CONTAINER:-} ]] && docker rm -f "$LOADGEN_CONTAINER" >/dev/null 2>&1
    if [[ -n $LOADGEN_PID ]] && kill -0 "$LOADGEN_PID" 2>/dev/null && ((status != 0)); then kill "$LOADGEN_PID" 2>/dev/null || true; fi
    if [[ -n ${CELL_STACK:-} ]]; then
        event "cell stopped early (exit $status): stopping its stack"
        "$ROOT/deploy/local-stack.sh" --stop "$CELL_STACK" >>"$CELL_STACK/local-stack.log" 2>&1 || true
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# A sleep the traps interrupt: bash runs a trap only once the foreground command ends, so a
# SIGTERM during a 60-s fault would wait out the fault before healing; `wait` returns at once.
# Faults go in once the load has flowed on every partition (loadgen's --steady-file), not after
# the fixed steady period alone: on a slow or loaded machine that period can end before enough
# orders were confirmed to show a cut against. Bounded: past STEADY_BOUND the fault goes in
# anyway, and the verdict says the cut could not be shown.
STEADY_BOUND=60
await_steady() { # steady_file
    local i
    for ((i = 0; i < STEADY_BOUND * 10; i++)); do
        [[ -s $1 ]] && return 0
        kill -0 "$LOADGEN_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    event "no steady flow ${STEADY_BOUND}s after the steady period (some partition has fewer than 10 confirmed orders): injecting anyway"
}

nap() { # seconds
    sleep "$1" &
    NAP_PID=$!
    wait "$NAP_PID" || true
    NAP_PID=""
}

# Injects one fault, holds it, heals it and records its window.
run_fault() { # class windows_file
    local hold start end healed=""
    hold=$(fault_hold "$1")
    start=$(now_ms)
    ACTIVE_FAULT=$1
    fault_inject "$1"
    # A clock fault's window is the time every instance ran on the fake clock: it leaves out
    # the restarts onto it and back (orders they delay are the restarts', not the clock's), and
    # its recovery is judged from the end of the restarts back (`healed`).
    [[ $1 == clock-* ]] && start=$(now_ms)
    event "$1: $FAULT_DETAIL$( ((hold > 0)) && echo " for ${hold}s")"
    nap "$hold"
    end=$(now_ms)
    fault_heal "$1"
    ACTIVE_FAULT=""
    if [[ $1 == clock-* ]]; then healed=$(now_ms); else end=$(now_ms); fi
    fault_write_window "$2" "$1" "$start" "$end" "$healed"
    ((hold > 0)) && event "healed $1"
    local line
    for line in "${FAULT_EVIDENCE[@]}"; do event "  felt: $line"; done
    ((${#FAULT_ERRORS[@]} == 0)) || event "  $1: ${#FAULT_ERRORS[@]} errors (the run fails on them)"
    return 0
}

# ---------------------------------------------------------------------------------------------
heal_mode() {
    if [[ -z $RUN_DIR ]]; then
        local chains
        chains=$(net_teardown_all | paste -sd ' ' -)
        echo "chaos: removed iptables chains: ${chains:-none}" >&2
        return 0
    fi
    load_stack "$RUN_DIR"
    net_teardown "$CHAIN"
    local pidfile name
    for pidfile in "$RUN_DIR"/pids/*.pid; do
        if [[ -e $pidfile ]]; then kill -CONT "$(<"$pidfile")" 2>/dev/null || true; fi
    done
    curl -fsS -X POST "$CONTROL/brokers/all/resume" -o /dev/null || true
    curl -fsS -X POST "$CONTROL/brokers/all/rtt?ms=0" -o /dev/null || true
    curl -fsS -X POST "$CONTROL/leaders/rebalance" -o /dev/null || true
    rm -f "$RUN_DIR/data/ballast"
    if [[ -n $POSTGRES ]] && ! pg_ready; then pg_control start || true; fi
    for name in $(all_instances); do
        if [[ -e $RUN_DIR/pids/$name.pid ]] && instance_is_faked "$name"; then restart_instance "$name"; fi
    done
    echo "chaos: healed $RUN_DIR: iptables chain $CHAIN removed, processes continued, brokers resumed at rtt 0, leaders spread, ballast removed" >&2
}

# ---------------------------------------------------------------------------------------------
rotation_mode() {
    RATE=${RATE:-100}
    SERVICES=(inventory payment order notification)
    if [[ $MODE == compose ]]; then
        RUN_DIR=${RUN_DIR:-${CHAOS_REPORTS:-$ROOT/run}/chaos-compose-$(date +%Y%m%d-%H%M%S)}
        mkdir -p "$RUN_DIR"
        RUN_DIR=$(cd "$RUN_DIR" && pwd)
        [[ $KINDS == "broker,leaders,cluster,kill" ]] && KINDS="broker,kill"
    else
        load_stack "$RUN_DIR"
        SERVICE_NAMES=("${SERVICES[@]}")  # the kill rotation's order
    fi
    TIMELINE=$RUN_DIR/chaos-timeline.txt
    : >"$TIMELINE"
    WINDOWS=$RUN_DIR/fault-windows.jsonl
    : >"$WINDOWS"
    RANDOM=$SEED
    local kinds kind class round=0
    IFS=, read -r -a kinds <<<"$KINDS"
    if [[ $MODE == local ]]; then
        for kind in "${kinds[@]}"; do
            class=$(class_of_kind "$kind")
            fault_unsupported "$class" >/dev/null || die "fault '$kind': $(fault_unsupported "$class")"
            [[ $class == clock-* || $class == brokers-* || $class == database-blackhole ]] && install_missing jq iptables faketime
        done
        install_missing jq
    fi

    REPORT=$RUN_DIR/chaos-report.json
    if [[ $MODE == local ]]; then
        rm -f "$RUN_DIR/loadgen.ready" "$RUN_DIR/loadgen.steady"
        start_loadgen "$DURATION" "$REPORT" "$WINDOWS" "$RUN_DIR/loadgen.ready" "$RUN_DIR/loadgen.steady"
    else
        # The report is written inside loadgen's container and copied out afterwards: a bind mount
        # would need a host path, and Docker would create a missing one as root.
        LOADGEN_CONTAINER=chaos-loadgen-$(date +%s)-$$
        compose --profile load run --name "$LOADGEN_CONTAINER" loadgen run --rate "$RATE" --duration "$DURATION" \
            --drain-timeout "$DRAIN_TIMEOUT" --report /tmp/chaos-report.json "${LOADGEN_ARGS[@]}" &
        LOADGEN_PID=$!
    fi
    event "load generator started: $RATE orders/s for ${DURATION}s (pid $LOADGEN_PID)"

    nap "$INTERVAL"
    [[ $MODE == local ]] && await_steady "$RUN_DIR/loadgen.steady"
    while (($(date +%s) - START + PAUSE < DURATION)) && kill -0 "$LOADGEN_PID" 2>/dev/null; do
        kind=${kinds[round % ${#kinds[@]}]}
        round=$((round + 1))
        if [[ $MODE == compose ]]; then
            compose_fault "$kind"
        else
            class=$(class_of_kind "$kind")
            [[ $kind == broker && $BROKERS_MODE == random ]] && NEXT_BROKER=$((RANDOM % BROKER_COUNT + 1))
            [[ $kind == leaders ]] && LEADER_BROKER=$((RANDOM % BROKER_COUNT + 1))
            HOLD=$PAUSE
            run_fault "$class" "$WINDOWS"
        fi
        nap "$INTERVAL"
    done
    event "faults over ($round injected); waiting for the load generator to drain and audit"

    local status
    set +e
    wait "$LOADGEN_PID"
    status=$?
    set -e
    event "load generator and audit exited with $status"
    if [[ $MODE == compose ]]; then
        docker cp "$LOADGEN_CONTAINER:/tmp/chaos-report.json" "$REPORT" >/dev/null || event "no report to copy out of $LOADGEN_CONTAINER"
    fi
    if ((status == 0 && REQUIRE_DUPLICATES)); then
        # The audit's per-service skippedOffset + skippedInbox counters, summed.
        local absorbed
        absorbed=$(grep -o '"skipped\(Inbox\|Offset\)" *: *[0-9]*' "$REPORT" | awk -F: '{ sum += $2 } END { print sum + 0 }')
        if ((absorbed == 0)); then
            event "no duplicate was absorbed: the faults were not felt"
            status=3
        else
            event "duplicates absorbed by the consumers: $absorbed"
        fi
    fi
    echo "timeline: $TIMELINE, report: $REPORT, fault windows: $WINDOWS" >&2
    return "$status"
}

# The rotation's short kinds, as fault classes.
class_of_kind() { # kind
    case $1 in
        broker) if [[ $BROKERS_MODE == all ]]; then echo broker-pause-all; else echo broker-pause; fi ;;
        leaders) echo leader-move ;;
        cluster) echo cluster-stop ;;
        *) echo "$1" ;;
    esac
}

COMPOSE_ARGS=(-f "$COMPOSE_FILE")
compose() { docker compose "${COMPOSE_ARGS[@]}" "$@"; }

# In the chaos container (docker-compose.yml): compose reads the file here, but the daemon
# resolves its relative mounts (./seed.json) on the host. So compose gets the deploy folder's
# host path, read off this container's own mount, as its project directory.
compose_project_directory() {
    [[ -n ${CHAOS_DEPLOY_MOUNT:-} ]] || return 0
    local host_deploy
    host_deploy=$(docker inspect --format "{{range .Mounts}}{{if eq .Destination \"$CHAOS_DEPLOY_MOUNT\"}}{{.Source}}{{end}}{{end}}" \
        "$HOSTNAME" 2>/dev/null || true)
    [[ -n $host_deploy ]] || die "cannot find the host path of $CHAOS_DEPLOY_MOUNT: docker inspect $HOSTNAME through the Docker socket failed"
    COMPOSE_ARGS+=(--project-directory "$host_deploy")
}

# docker compose knows two faults: pause a Kafka broker, kill a service.
compose_fault() { # kind
    local id service
    case $1 in
        broker)
            id=$NEXT_BROKER
            NEXT_BROKER=$((NEXT_BROKER % 3 + 1))
            [[ $BROKERS_MODE == random ]] && id=$((RANDOM % 3 + 1))
            compose pause "kafka-$id"
            event "paused broker(s) $id for ${PAUSE}s"
            nap "$PAUSE"
            compose unpause "kafka-$id"
            event "resumed broker(s) $id" ;;
        kill)
            service=${SERVICES[NEXT_KILL]}
            NEXT_KILL=$(((NEXT_KILL + 1) % ${#SERVICES[@]}))
            compose kill -s SIGKILL "$service" >/dev/null
            event "SIGKILL $service"
            sleep 1
            compose start "$service" >/dev/null
            event "restarted $service" ;;
        *) event "fault '$1' is local only: skipped on compose" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# The classes a backend supports, with the clock classes on every service.
default_classes() { # postgres(0|1) instances
    local class service
    for class in "${FAULT_CLASSES[@]}"; do
        case $class in
            database-blackhole | postgres-restart | postgres-stop) (($1)) || continue ;;
            lock-holder-pause) (($1 && $2 >= 2)) || continue ;;
            disk-full) (($1)) && continue ;;
        esac
        if [[ $class == clock-* ]]; then
            for service in "${SERVICE_NAMES[@]}"; do echo "$class:$service"; done
        else
            echo "$class"
        fi
    done
}

matrix_mode() {
    ((EUID == 0)) || die "--matrix creates users, sets iptables rules and mounts a tmpfs: run it as root"
    [[ -n $MATRIX_BIN_DIR ]] || die "--matrix needs --bin-dir DIR: the built executables (swift build, then .build/debug or .build/release)"
    MATRIX_BIN_DIR=$(cd "$MATRIX_BIN_DIR" && pwd) || die "no folder $MATRIX_BIN_DIR (--bin-dir)"
    [[ -x $MATRIX_BIN_DIR/loadgen ]] || die "no loadgen in $MATRIX_BIN_DIR (--bin-dir): build first"
    install_missing jq iptables faketime
    RATE=${RATE:-50}
    local postgres=0 instances=1 i
    for ((i = 0; i < ${#STACK_ARGS[@]}; i++)); do
        case ${STACK_ARGS[i]} in
            --postgres) postgres=1 ;;
            --instances) instances=${STACK_ARGS[i + 1]:-1} ;;
            --run-dir | --users | --skip-load | --keep-running | --data-tmpfs | --bin-dir | --stop)
                die "'${STACK_ARGS[i]}' after -- is chaos.sh's to set for each cell" ;;
        esac
    done
    local cells=()
    if [[ -n $CLASSES ]]; then
        IFS=, read -r -a cells <<<"$CLASSES"
    else
        mapfile -t cells < <(default_classes "$postgres" "$instances")
    fi
    local class why
    for class in "${cells[@]}"; do
        # Only the class's own shape here: what the stack can do is checked on each cell's stack.
        why=$(POSTGRES=$( ((postgres)) && echo x) INSTANCES=$instances USERS=1 RUN_DIR=/nonexistent fault_unsupported "$class") \
            || [[ $why == *tmpfs* ]] || die "--classes: $class: $why"
    done
    MATRIX_DIR=${MATRIX_DIR:-$ROOT/run/matrix-$(date +%Y%m%d-%H%M%S)}
    mkdir -p "$MATRIX_DIR"
    MATRIX_DIR=$(cd "$MATRIX_DIR" && pwd)
    TIMELINE=$MATRIX_DIR/timeline.txt
    : >"$TIMELINE"
    event "matrix: ${#cells[@]} cells (${cells[*]}), steady ${STEADY}s / fault ${FAULT}s / recovery ${RECOVERY}s at $RATE orders/s; stack: ${STACK_ARGS[*]:-SQLite, one instance}; in $MATRIX_DIR"
    event "instance and network faults hit $TARGET's relay lease holder; rtt ${RTT_MS} ms, loss ${LOSS}, clock offset ${CLOCK_OFFSET}s"

    local report_args=() index=0 cell status
    for class in "${cells[@]}"; do
        index=$((index + 1))
        cell=$MATRIX_DIR/$(printf '%02d' "$index")-${class//:/-}
        report_args+=(--cell "$class=$cell/report.json")
        # In a child process: a function called as `f || status=$?` runs with set -e off, so a
        # failing command would not end the cell. The child has its own traps (heal, stop).
        status=0
        run_cell "$class" "$cell" &
        CELL_PID=$!
        wait "$CELL_PID" || status=$?
        CELL_PID=""
        event "cell $class: exit $status"
    done

    local backend="SQLite, 1 instance"
    ((postgres)) && backend="PostgreSQL, $instances instance(s)"
    set +e
    "$MATRIX_BIN_DIR/loadgen" matrix-report "${report_args[@]}" --json "$MATRIX_DIR/matrix.json" \
        --title "fault matrix ($backend; steady ${STEADY}s, fault ${FAULT}s, recovery ${RECOVERY}s, $RATE orders/s)" \
        | tee "$MATRIX_DIR/matrix.txt"
    set -e
    echo "matrix: $MATRIX_DIR/matrix.txt, $MATRIX_DIR/matrix.json, cells in $MATRIX_DIR" >&2
    # Non-zero unless every cell passed.
    ! grep -q '"verdict" : "\(VIOLATION\|HANG\|ERROR\)"' "$MATRIX_DIR/matrix.json"
}

# One cell: a fresh stack, load for steady + fault + recovery, the fault in the middle, stop.
run_cell() { # class cell_dir
    trap on_exit EXIT
    trap 'exit 130' INT TERM
    local class=$1 cell=$2 extra=(--users --skip-load --run-dir "$2" --bin-dir "$MATRIX_BIN_DIR") hold status=0
    [[ $class == disk-full ]] && extra+=(--data-tmpfs "$DISK_SIZE")
    mkdir -p "$cell"
    if ! "$ROOT/deploy/local-stack.sh" "${STACK_ARGS[@]}" "${extra[@]}" >"$cell/local-stack.log" 2>&1; then
        event "cell $class: the stack did not start: $(tail -n 3 "$cell/local-stack.log" | tr '\n' ' ')"
        "$ROOT/deploy/local-stack.sh" --stop "$cell" >/dev/null 2>&1 || true
        return 1
    fi
    load_stack "$cell"
    CELL_STACK=$cell
    # shellcheck disable=SC2034  # read by the fault classes
    NEXT_BROKER=1 LEADER_BROKER=2 NEXT_KILL=0 HOLD=$FAULT
    local why
    if ! why=$(fault_unsupported "$class"); then
        event "cell $class: $why"
        "$ROOT/deploy/local-stack.sh" --stop "$cell" >/dev/null 2>&1 || true
        return 1
    fi
    hold=$(fault_hold "$class")
    local windows=$cell/fault-windows.jsonl ready=$cell/loadgen.ready steady=$cell/loadgen.steady
    : >"$windows"
    rm -f "$ready" "$steady"
    # The load runs until RECOVERY seconds after the heal, however long injecting and healing
    # took (a clock fault restarts every instance twice): the duration is only a ceiling, and
    # SIGTERM ends the sending (the load generator then drains, audits and judges the window,
    # which is on file by then).
    start_loadgen $((STEADY + hold + RECOVERY + 300)) "$cell/report.json" "$windows" "$ready" "$steady" >"$cell/loadgen.txt" 2>"$cell/loadgen.log"
    local i
    for ((i = 0; i < 600; i++)); do
        [[ -s $ready ]] && break
        kill -0 "$LOADGEN_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -s $ready ]]; then
        nap "$STEADY"
        await_steady "$steady"
        run_fault "$class" "$windows"
        nap "$RECOVERY"
        kill -TERM "$LOADGEN_PID" 2>/dev/null || true
    else
        event "cell $class: the load generator did not start sending (see $cell/loadgen.log)"
    fi
    wait "$LOADGEN_PID" || status=$?
    LOADGEN_PID=""
    net_teardown "$CHAIN"
    CELL_STACK=""
    "$ROOT/deploy/local-stack.sh" --stop "$cell" >>"$cell/local-stack.log" 2>&1 || true
    return "$status"
}

# ---------------------------------------------------------------------------------------------
case $MODE in
    heal) heal_mode ;;
    matrix) matrix_mode ;;
    local) rotation_mode ;;
    compose)
        compose_project_directory
        rotation_mode
        ;;
    *) die "say --local RUN_DIR, --compose, --matrix or --heal (see --help)" ;;
esac
