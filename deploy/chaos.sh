#!/usr/bin/env bash
# Breaks the platform on purpose while the load generator runs, then lets the audit judge:
# the exit status is the load generator's (non-zero on any violated invariant or lost order).
#
#   deploy/chaos.sh --local run/20261122-101500        # a stack started by local-stack.sh --keep-running
#   deploy/chaos.sh --compose                          # the docker-compose stack (deploy/docker-compose.yml)
#   docker compose -f deploy/docker-compose.yml run --rm chaos     # the same, from the stack's chaos container
#
# Faults, one per --interval seconds, in a fixed rotation of the kinds enabled:
#   broker   pause a broker (--brokers one: round robin, random: any, all: every broker) for --pause seconds
#            local: the dev cluster's control API; compose: docker compose pause/unpause kafka-N
#   leaders  (local) move partition leadership and group coordinators off a broker, and back
#   cluster  (local) SIGSTOP the whole dev cluster process for --pause seconds, then SIGCONT
#   kill     SIGKILL a service (the next one in turn) and start it again
# A timeline of what was done, when, is printed as it happens and kept in the run folder.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=""
RUN_DIR=""
COMPOSE_FILE=$ROOT/deploy/docker-compose.yml
DURATION=90
RATE=100
INTERVAL=10
PAUSE=5
BROKERS_MODE=one
KINDS="broker,leaders,cluster,kill"
DRAIN_TIMEOUT=120
REQUIRE_DUPLICATES=0
SEED=$$
KILL_INSTANCE=0
LOADGEN_ARGS=()

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --local RUN_DIR        target the local stack of RUN_DIR      --compose  target docker compose
  --compose-file FILE    (default deploy/docker-compose.yml)
  --run-dir DIR          (compose) where the timeline and report go (default run/chaos-compose-<timestamp>,
                         or under $CHAOS_REPORTS in the chaos container)
  --duration S           seconds of load (default 90)          --rate N   orders/s (default 100)
  --interval S           seconds between faults (default 10)   --pause S  length of a pause (default 5)
  --brokers one|random|all   which brokers a broker fault pauses (default one)
  --faults LIST          kinds, comma-separated (default broker,leaders,cluster,kill; compose: broker,kill)
  --drain-timeout S      bound on the wait for the system to drain (default 120)
  --require-duplicates   also fail if the consumers absorbed no duplicate (the faults were not felt)
  --random-seed N        for --brokers random
  --kill-instance K      (local) which instance of a service a kill fault hits (default 0; the load
                         generator talks to instance 0, so K=1 keeps its HTTP calls flowing)
  --loadgen ARG          an extra argument for `loadgen run` (repeatable)
EOF
}

while (($#)); do
    case "$1" in
        --local) TARGET=local; RUN_DIR=$2; shift 2 ;;
        --compose) TARGET=compose; shift ;;
        --compose-file) COMPOSE_FILE=$2; shift 2 ;;
        --run-dir) RUN_DIR=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --interval) INTERVAL=$2; shift 2 ;;
        --pause) PAUSE=$2; shift 2 ;;
        --brokers) BROKERS_MODE=$2; shift 2 ;;
        --faults) KINDS=$2; shift 2 ;;
        --drain-timeout) DRAIN_TIMEOUT=$2; shift 2 ;;
        --require-duplicates) REQUIRE_DUPLICATES=1; shift ;;
        --random-seed) SEED=$2; shift 2 ;;
        --kill-instance) KILL_INSTANCE=$2; shift 2 ;;
        --loadgen) LOADGEN_ARGS+=("$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "chaos: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

[[ -n $TARGET ]] || { echo "chaos: say --local RUN_DIR or --compose" >&2; exit 2; }
case $BROKERS_MODE in one|random|all) ;; *) echo "chaos: --brokers is one, random or all" >&2; exit 2 ;; esac
RANDOM=$SEED
START=$(date +%s)
SERVICES=(inventory payment order notification)
if [[ $TARGET == compose ]]; then
    RUN_DIR=${RUN_DIR:-${CHAOS_REPORTS:-$ROOT/run}/chaos-compose-$(date +%Y%m%d-%H%M%S)}
    mkdir -p "$RUN_DIR"
    [[ $KINDS == "broker,leaders,cluster,kill" ]] && KINDS="broker,kill"
fi
RUN_DIR=$(cd "$RUN_DIR" && pwd)
TIMELINE=$RUN_DIR/chaos-timeline.txt
: >"$TIMELINE"

event() { # what
    local line
    line=$(printf '+%4ss  %s' "$(($(date +%s) - START))" "$*")
    echo "$line" | tee -a "$TIMELINE" >&2
}

# --- the two targets -----------------------------------------------------------------------
COMPOSE_ARGS=(-f "$COMPOSE_FILE")
if [[ $TARGET == compose && -n ${CHAOS_DEPLOY_MOUNT:-} ]]; then
    # In the chaos container (docker-compose.yml): compose reads the file here, but the daemon
    # resolves its relative mounts (./seed.json) on the host. So compose gets the deploy
    # folder's host path, read off this container's own mount, as its project directory.
    host_deploy=$(docker inspect --format "{{range .Mounts}}{{if eq .Destination \"$CHAOS_DEPLOY_MOUNT\"}}{{.Source}}{{end}}{{end}}" \
        "$HOSTNAME" 2>/dev/null || true)
    [[ -n $host_deploy ]] || {
        echo "chaos: cannot find the host path of $CHAOS_DEPLOY_MOUNT: docker inspect $HOSTNAME through the Docker socket failed" >&2
        exit 2
    }
    COMPOSE_ARGS+=(--project-directory "$host_deploy")
fi
compose() { docker compose "${COMPOSE_ARGS[@]}" "$@"; }

if [[ $TARGET == local ]]; then
    [[ -s $RUN_DIR/control && -s $RUN_DIR/stack.env ]] \
        || { echo "chaos: $RUN_DIR is not a running local stack (start one with deploy/local-stack.sh --keep-running)" >&2; exit 2; }
    # shellcheck source=/dev/null
    source "$RUN_DIR/stack.env"
    CONTROL=$(<"$RUN_DIR/control")
    BROKER_COUNT=$(curl -fsS "$CONTROL/status" | grep -o '"id" *: *[0-9]*' | wc -l)
    ((BROKER_COUNT > 0)) || BROKER_COUNT=3
else
    BROKER_COUNT=3
fi

control() { curl -fsS -X POST "$CONTROL$1" -o /dev/null || event "control call $1 failed"; }

pause_brokers() { # ids...
    local id
    for id in "$@"; do
        if [[ $TARGET == local ]]; then control "/brokers/$id/pause"; else compose pause "kafka-$id"; fi
    done
    event "paused broker(s) $* for ${PAUSE}s"
    sleep "$PAUSE"
    for id in "$@"; do
        if [[ $TARGET == local ]]; then control "/brokers/$id/resume"; else compose unpause "kafka-$id"; fi
    done
    event "resumed broker(s) $*"
}

next_broker=1
broker_fault() {
    case $BROKERS_MODE in
        one) pause_brokers "$next_broker"; next_broker=$((next_broker % BROKER_COUNT + 1)) ;;
        random) pause_brokers $((RANDOM % BROKER_COUNT + 1)) ;;
        all) mapfile -t all < <(seq 1 "$BROKER_COUNT"); pause_brokers "${all[@]}" ;;
    esac
}

leaders_fault() {
    local id=$((RANDOM % BROKER_COUNT + 1))
    control "/brokers/$id/evacuate"
    event "moved leaders and coordinators off broker $id"
    sleep "$PAUSE"
    control "/leaders/rebalance"
    event "spread leaders back over all brokers"
}

cluster_fault() {
    local pid
    pid=$(<"$RUN_DIR/pids/dev-cluster.pid")
    kill -STOP "$pid"
    event "SIGSTOP the whole dev cluster (pid $pid) for ${PAUSE}s"
    sleep "$PAUSE"
    kill -CONT "$pid"
    event "SIGCONT the dev cluster"
}

next_service=0
kill_fault() {
    local service=${SERVICES[next_service]}
    next_service=$(((next_service + 1) % ${#SERVICES[@]}))
    if [[ $TARGET == compose ]]; then
        compose kill -s SIGKILL "$service" >/dev/null
        event "SIGKILL $service"
        sleep 1
        compose start "$service" >/dev/null
        event "restarted $service"
        return
    fi
    local name=$service-$KILL_INSTANCE pid
    pid=$(<"$RUN_DIR/pids/$name.pid")
    kill -KILL "$pid" 2>/dev/null || true
    event "SIGKILL $name (pid $pid)"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    # The saved command line is a quoted word list; `exec` makes $! the service's own pid.
    eval "exec $(<"$RUN_DIR/cmd/$name")" >>"$RUN_DIR/logs/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/pids/$name.pid"
    event "restarted $name (pid $!)"
}

# --- load in the background, faults in the foreground ------------------------------------------
REPORT=$RUN_DIR/chaos-report.json
if [[ $TARGET == local ]]; then
    "$BIN_DIR/loadgen" run --bootstrap-file "$RUN_DIR/bootstrap" --dev-cluster-tuning true --seed-file "$RUN_DIR/seed.json" \
        --order-url "$ORDER_URL" --inventory-url "$INVENTORY_URL" --payment-url "$PAYMENT_URL" \
        --notification-url "$NOTIFICATION_URL" --rate "$RATE" --duration "$DURATION" \
        --drain-timeout "$DRAIN_TIMEOUT" --report "$REPORT" "${LOADGEN_ARGS[@]}" &
else
    # The report is written inside loadgen's container and copied out afterwards: a bind mount
    # would need a host path, and Docker would create a missing one as root.
    LOADGEN_CONTAINER=chaos-loadgen-$(date +%s)-$$
    # shellcheck disable=SC2317  # invoked by the EXIT trap
    remove_loadgen() { docker rm -f "$LOADGEN_CONTAINER" >/dev/null 2>&1 || true; }
    trap remove_loadgen EXIT
    compose --profile load run --name "$LOADGEN_CONTAINER" loadgen run --rate "$RATE" --duration "$DURATION" \
        --drain-timeout "$DRAIN_TIMEOUT" --report /tmp/chaos-report.json "${LOADGEN_ARGS[@]}" &
fi
LOADGEN_PID=$!
event "load generator started: $RATE orders/s for ${DURATION}s (pid $LOADGEN_PID)"

IFS=, read -r -a kinds <<<"$KINDS"
round=0
sleep "$INTERVAL"
while (($(date +%s) - START + PAUSE < DURATION)) && kill -0 "$LOADGEN_PID" 2>/dev/null; do
    kind=${kinds[round % ${#kinds[@]}]}
    round=$((round + 1))
    case $kind in
        broker) broker_fault ;;
        leaders) [[ $TARGET == local ]] && leaders_fault ;;
        cluster) [[ $TARGET == local ]] && cluster_fault ;;
        kill) kill_fault ;;
        *) echo "chaos: unknown fault kind '$kind'" >&2; kill "$LOADGEN_PID"; exit 2 ;;
    esac
    sleep "$INTERVAL"
done
event "faults over ($round injected); waiting for the load generator to drain and audit"

set +e
wait "$LOADGEN_PID"
status=$?
set -e
event "load generator and audit exited with $status"
if [[ $TARGET == compose ]]; then
    docker cp "$LOADGEN_CONTAINER:/tmp/chaos-report.json" "$REPORT" >/dev/null || event "no report to copy out of $LOADGEN_CONTAINER"
fi
if ((status == 0 && REQUIRE_DUPLICATES)); then
    # The audit's per-service skippedOffset + skippedInbox counters, summed.
    absorbed=$(grep -o '"skipped\(Inbox\|Offset\)" *: *[0-9]*' "$REPORT" | awk -F: '{ sum += $2 } END { print sum + 0 }')
    if ((absorbed == 0)); then
        event "no duplicate was absorbed: the faults were not felt"
        status=3
    else
        event "duplicates absorbed by the consumers: $absorbed"
    fi
fi
echo "timeline: $TIMELINE, report: $REPORT" >&2
exit "$status"
