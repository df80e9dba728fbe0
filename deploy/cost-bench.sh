#!/usr/bin/env bash
# Cost per order: for each rate, the floor (raw librdkafka, 4 hops) and then the local stack at
# that rate, with every process's CPU sampled from /proc over the steady part of the run.
#
#   deploy/cost-bench.sh                                  # rates 100 200 400 800, 60 s each, SQLite
#   deploy/cost-bench.sh --rates 200,1000 --duration 60 --partitions 36
#   deploy/cost-bench.sh --postgres postgres://saga:saga@127.0.0.1:5432   # the server's CPU apart
#
# With --postgres, each rate also runs the PostgreSQL floor (deploy/bench/pg-floor.sh: the least
# SQL an order needs, with pgbench at the same rate and duration) once that rate's stack has
# stopped: it copies the stack's saga_<service> databases for their tables.
#
# Per rate it prints and writes (OUT/cost.json, OUT/cost.svg, OUT/cost.txt): CPU ms per order of
# each service and their sum, of the dev cluster and of the load generator (and of PostgreSQL);
# p50/p99 accepted→confirmed and notified; the stack's p99 over the floor's; peak RSS per
# service; whether the audit passed. CPU counts utime+stime between two samples taken
# --warmup s after the first order was due and --tail s before the last: orders in that
# window = rate × its length (the load is an open model, so that is what was sent).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RATES="100,200,400,800"
DURATION=60
WARMUP=10
TAIL=5
BIN_DIR="$ROOT/.build/release"
POSTGRES=""
SERVICE_OPTIONS=""
FLOOR="$ROOT/../shared/bench/hoplimit.sh"
PG_FLOOR="$ROOT/deploy/bench/pg-floor.sh"
OUT=""
PARTITIONS=""
STACK_ARGS=()
# The dev cluster keeps ~5 MiB per partition (Tools/DevCluster/README.md) and orders.v1 takes
# ~1.6 KB per order (60 s at 1000/s kept ~38,000 of 60,000 orders on 12 partitions). A run is
# at risk past one order per 2 KiB kept (12 partitions: ~30,000 orders); the advice allows 3 KiB.
PARTITION_KIB=5120
DEFAULT_PARTITIONS=12

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --rates R1,R2,...   orders per second, one run each (default 100,200,400,800)
  --duration S        seconds of load per rate (default 60)
  --warmup S          seconds after the first order before the CPU window opens (default 10)
  --tail S            seconds before the last order when the window closes (default 5)
  --bin-dir DIR       the executables (default .build/release; build with
                      swift build -c release --static-swift-stdlib, as local-stack.sh does)
  --postgres URL      run the services on PostgreSQL (saga_<service> databases on that server)
  --service-options Q the services' PostgreSQL URL options, e.g. prepared_statements=0
  --floor PATH        the floor benchmark, hoplimit.sh (default ../shared/bench/hoplimit.sh);
                      "none" skips it
  --pg-floor PATH     the PostgreSQL floor with --postgres (default deploy/bench/pg-floor.sh);
                      "none" skips it
  --partitions N      partitions of every topic of each run's dev cluster (default: dev-cluster's, 12);
                      it keeps ~5 MiB per partition, so runs past ~30,000 orders need more
  --stack ARG         an extra argument for local-stack.sh (repeatable)
  --out DIR           where the runs and results go (default run/cost-<timestamp>)
EOF
}

while (($#)); do
    case "$1" in
        --rates) RATES=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --tail) TAIL=$2; shift 2 ;;
        --bin-dir) BIN_DIR=$2; shift 2 ;;
        --postgres) POSTGRES=$2; shift 2 ;;
        --service-options) SERVICE_OPTIONS=$2; shift 2 ;;
        --floor) FLOOR=$2; shift 2 ;;
        --pg-floor) PG_FLOOR=$2; shift 2 ;;
        --partitions) PARTITIONS=$2; shift 2 ;;
        --stack) STACK_ARGS+=("$2"); shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "cost-bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '%s cost-bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

IFS=, read -r -a rate_list <<<"$RATES"
for rate in "${rate_list[@]}"; do
    [[ $rate =~ ^[1-9][0-9]*$ ]] || die "--rates takes whole orders per second separated by commas, got '$RATES'"
done
for value in "$DURATION" "$WARMUP" "$TAIL"; do
    [[ $value =~ ^[0-9]+$ ]] || die "--duration, --warmup and --tail take whole seconds, got '$value'"
done
((WARMUP + TAIL + 5 <= DURATION)) || die "--duration ($DURATION) must exceed --warmup + --tail by at least 5 s"
if [[ -n $PARTITIONS ]]; then
    if [[ ! $PARTITIONS =~ ^[1-9][0-9]{0,4}$ ]] || ((PARTITIONS > 10000)); then
        die "--partitions takes a whole number of partitions from 1 to 10000 (dev-cluster's limit), got '$PARTITIONS'"
    fi
fi
for arg in "${STACK_ARGS[@]}"; do
    [[ $arg != --partitions* ]] || die "give --partitions N to cost-bench.sh itself, not through --stack (it sizes the warning and cost.json records it)"
done
for exe in dev-cluster order-service inventory-service payment-service notification-service loadgen; do
    [[ -x $BIN_DIR/$exe ]] || die "no $exe in $BIN_DIR: build first (swift build -c release --static-swift-stdlib) or give --bin-dir"
done
BIN_DIR=$(cd "$BIN_DIR" && pwd)
if [[ $FLOOR != none && ! -x $FLOOR ]]; then
    die "no floor benchmark at $FLOOR: give --floor PATH to hoplimit.sh, or --floor none"
fi
if [[ -n $POSTGRES && $PG_FLOOR != none && ! -x $PG_FLOOR ]]; then
    die "no PostgreSQL floor at $PG_FLOOR: give --pg-floor PATH to pg-floor.sh, or --pg-floor none"
fi
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
command -v python3 >/dev/null || die "python3 is needed for the plot"
[[ -z $POSTGRES ]] || command -v psql >/dev/null || die "--postgres needs psql (apt-get install postgresql-client)"
# The server as psql reaches it; the services' URL adds --service-options (stack.env, sourced
# for each run, carries that URL).
PG_SERVER=${POSTGRES%/}
OUT=${OUT:-$ROOT/run/cost-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TICKS=$(getconf CLK_TCK)
SERVICES=(order inventory payment notification)
# The stack's databases on the server (local-stack.sh names them saga_<service>); a SQL list.
SERVICE_DATABASES="'saga_order', 'saga_inventory', 'saga_payment', 'saga_notification'"

# jq: a "name value" line per entry (the samples below) as an object.
# shellcheck disable=SC2016  # jq variables, not the shell's
JQ_TABLE='def table($text): $text | split("\n") | map(select(length > 0) | split(" ")) | map({key: .[0], value: (.[1] | tonumber)}) | from_entries;'

# shellcheck source=deploy/bench/proc_stats.sh
source "$ROOT/deploy/bench/proc_stats.sh"

# One sample: "name ticks" per line for the services, the dev cluster, the load generator, PostgreSQL.
sample() { # run_dir loadgen_pid
    local dir=$1 service
    for service in "${SERVICES[@]}"; do echo "$service $(cpu_ticks "$(<"$dir/pids/$service-0.pid")")"; done
    echo "dev-cluster $(cpu_ticks "$(<"$dir/pids/dev-cluster.pid")")"
    echo "loadgen $(cpu_ticks "$2")"
    [[ -z $POSTGRES ]] || echo "postgres $(postgres_ticks)"
    machine_ticks
}

# PostgreSQL's own account of the window: transactions per service database (pg_stat_database)
# and, when the pg_stat_statements extension is loaded (.ci/postgres.sh and compose load it),
# every statement's calls and execution time (deploy/bench/pg_breakdown.py turns them into per order).
pg_sql() { # sql [database, default postgres]
    psql "$PG_SERVER/${2:-postgres}" --no-psqlrc -X -q -tA -v ON_ERROR_STOP=1 -c "$1" </dev/null
}
pg_window_start() { # dir
    if pg_sql "SELECT pg_stat_statements_reset()" >/dev/null 2>"$1/pg-statements.err"; then
        rm -f "$1/pg-statements.err"
    else
        log "no statement breakdown: pg_stat_statements is not usable ($(head -n 1 "$1/pg-statements.err")); run .ci/postgres.sh"
    fi
    pg_sql "SELECT datname || '|' || (xact_commit + xact_rollback) FROM pg_stat_database WHERE datname IN ($SERVICE_DATABASES)" >"$1/pg-xact-start"
    pg_table_scans >"$1/pg-tables-start"
}
# Per table of each service database, "database|table|seq_scan|seq_tup_read|idx_scan": a plan
# that scans a whole table where an index would do shows here as rows read per order.
pg_table_scans() {
    local database
    for database in $(pg_sql "SELECT datname FROM pg_stat_database WHERE datname IN ($SERVICE_DATABASES)"); do
        pg_sql "SELECT current_database() || '|' || relname || '|' || seq_scan || '|' || seq_tup_read || '|' || coalesce(idx_scan, 0)
                FROM pg_stat_user_tables" "$database"
    done
}
pg_window_end() { # dir
    pg_sql "SELECT datname || '|' || (xact_commit + xact_rollback) FROM pg_stat_database WHERE datname IN ($SERVICE_DATABASES)" >"$1/pg-xact-end"
    pg_table_scans >"$1/pg-tables-end"
    [[ -e $1/pg-statements.err ]] && return
    pg_sql "SELECT coalesce(json_agg(s), '[]') FROM (
              SELECT d.datname AS database, s.calls, s.total_exec_time AS exec_ms, s.rows,
                     left(regexp_replace(s.query, '\s+', ' ', 'g'), 200) AS query
              FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
              WHERE d.datname IN ($SERVICE_DATABASES)) s" >"$1/pg-statements.json"
}

# The services' batch-size series from /metrics ("service series value"), read as a monitor:
# records per consumer batch and POSTs per group-commit transaction (deploy/bench/batch_sizes.py).
metrics_sample() { # token
    local service url
    for service in "${SERVICES[@]}"; do
        case $service in
            order) url=$ORDER_URL ;; inventory) url=$INVENTORY_URL ;; payment) url=$PAYMENT_URL ;; notification) url=$NOTIFICATION_URL ;;
        esac
        curl -fsS -H "Authorization: Bearer $1" "$url/metrics" 2>/dev/null \
            | awk -v service="$service" '/^messaging_(batch_size|group_commit_size)_(sum|count)/ { print service, $1, $2 }' || true
    done
}

# One line per thread of each service: "service tid ticks name" (deploy/bench/thread_cpu.py).
thread_sample() { # run_dir
    local service pid task stat fields name
    for service in "${SERVICES[@]}"; do
        pid=$(<"$1/pids/$service-0.pid")
        for task in /proc/"$pid"/task/*; do
            stat=$(cat "$task/stat" 2>/dev/null) || continue
            read -r -a fields <<<"${stat##*) }"
            name=${stat#*(}
            name=${name%)*}
            echo "$service ${task##*/} $((fields[11] + fields[12])) $name"
        done
    done
}

# The floor's processes under a pid, "pid role" per line; the role is the floor binary's first
# argument: "host" runs its mock cluster, "stage" and "drive" are its clients.
floor_processes() { # pid
    local child
    for child in $(pgrep -P "$1"); do
        echo "$child $(tr '\0' '\n' <"/proc/$child/cmdline" 2>/dev/null | sed -n 2p)"
        floor_processes "$child"
    done
}
# "cluster ticks" and "clients ticks" of the floor's processes now; a part with no process
# found has no line (its figure is then null, not zero).
floor_sample() { # pid
    local pid role cluster="" clients=""
    while read -r pid role; do
        case $role in
            host) cluster=$((cluster + $(cpu_ticks "$pid"))) ;;
            stage | drive) clients=$((clients + $(cpu_ticks "$pid"))) ;;
        esac
    done < <(floor_processes "$1")
    [[ -z $cluster ]] || echo "cluster $cluster"
    [[ -z $clients ]] || echo "clients $clients"
}

run_floor() { # rate -> writes floor.json
    local rate=$1 dir=$2 line cpu_ms floor_pid started window
    if [[ $FLOOR == none ]]; then echo '{}' >"$dir/floor.json"; return; fi
    log "floor: $FLOOR $((rate * DURATION)) $rate"
    # `times` in the subshell reports what its children (the floor's processes) used.
    ( (TIMEFORMAT=; "$FLOOR" "$((rate * DURATION))" "$rate"; times) >"$dir/floor.log" 2>&1 ) &
    floor_pid=$!
    # The same window as the stack's, from the moment the floor's driver starts sending: its
    # clients' CPU apart from its mock cluster's is what the services' Kafka work compares with.
    : >"$dir/floor-start"
    : >"$dir/floor-end"
    until [[ $(floor_processes "$floor_pid") == *" drive"* ]]; do
        kill -0 "$floor_pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$floor_pid" 2>/dev/null; then
        started=$(date +%s%3N)
        sleep_until $((started + WARMUP * 1000))
        floor_sample "$floor_pid" >"$dir/floor-start"
        sleep_until $((started + (DURATION - TAIL) * 1000))
        floor_sample "$floor_pid" >"$dir/floor-end"
    fi
    wait "$floor_pid" || true
    line=$(grep '^hoplimit:' "$dir/floor.log" || true)
    cpu_ms=$(tail -n 1 "$dir/floor.log" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }')
    if [[ -z $line ]]; then
        log "the floor printed no result: $(tail -n 3 "$dir/floor.log" | tr '\n' ' ')"
        echo '{}' >"$dir/floor.json"
        return
    fi
    log "$line"
    window=$((DURATION - TAIL - WARMUP))
    # hoplimit: N msgs through 4 hops in S s = R/s; e2e ms p50 A p99 B max C
    jq -n --arg line "$line" --argjson cpu "$cpu_ms" --argjson n "$((rate * DURATION))" \
        --rawfile first "$dir/floor-start" --rawfile last "$dir/floor-end" \
        --argjson ticks "$TICKS" --argjson inWindow "$((rate * window))" "$JQ_TABLE"'
        (table($first)) as $s | (table($last)) as $e
        | def perMessage($k): if $s[$k] and $e[$k] then ($e[$k] - $s[$k]) / $ticks * 1000 / $inWindow else null end;
        ($line | capture("in (?<s>[0-9.]+)s = (?<r>[0-9.]+)/s; e2e ms p50 (?<p50>[0-9.]+) p99 (?<p99>[0-9.]+) max (?<max>[0-9.]+)")) as $m
        | {messages: $n, seconds: ($m.s | tonumber), ratePerSecond: ($m.r | tonumber),
           p50Ms: ($m.p50 | tonumber), p99Ms: ($m.p99 | tonumber), maxMs: ($m.max | tonumber),
           cpuMsPerMessage: ($cpu / $n),
           clientsCpuMsPerMessage: perMessage("clients"), clusterCpuMsPerMessage: perMessage("cluster"),
           line: $line}' >"$dir/floor.json"
}

# The PostgreSQL floor at the same rate and duration (with --postgres) -> writes pg-floor.json.
run_pg_floor() { # rate dir
    local rate=$1 dir=$2
    echo '{}' >"$dir/pg-floor.json"
    [[ -n $POSTGRES && $PG_FLOOR != none ]] || return 0
    log "PostgreSQL floor: $PG_FLOOR at $rate orders/s for $DURATION s"
    if "$PG_FLOOR" --postgres "$PG_SERVER" --rate "$rate" --duration "$DURATION" --json "$dir/pg-floor.json" >"$dir/pg-floor.log" 2>&1; then
        log "$(grep '^pgfloor:' "$dir/pg-floor.log" || true)"
    else
        log "the PostgreSQL floor failed: $(tail -n 3 "$dir/pg-floor.log" | tr '\n' ' ')"
        echo '{}' >"$dir/pg-floor.json"
    fi
}

run_stack() { # rate dir -> writes stack.json
    local rate=$1 dir=$2 stack_dir=$2/stack loadgen_pid started now window service
    local stack=("$ROOT/deploy/local-stack.sh" --bin-dir "$BIN_DIR" --skip-load --run-dir "$stack_dir")
    [[ -z $POSTGRES ]] || stack+=(--postgres "$PG_SERVER${SERVICE_OPTIONS:+?$SERVICE_OPTIONS}")
    [[ -z $PARTITIONS ]] || stack+=(--partitions "$PARTITIONS")
    log "stack at $rate orders/s for $DURATION s"
    "${stack[@]}" "${STACK_ARGS[@]}" 2>"$dir/local-stack.log" || die "the stack did not start: $(tail -n 5 "$dir/local-stack.log")"
    # shellcheck disable=SC1091
    source "$stack_dir/stack.env"
    local monitor partitions
    monitor=$("$BIN_DIR/saga-admin" token --keys "$KEYS_DIR" --role monitor --subject cost-bench)
    # The partitions the dev cluster really has (its control API), for cost.json.
    partitions=$(curl -fsS "$(<"$stack_dir/control")/status" 2>/dev/null \
        | jq '.topics[] | select(.name == "orders.v1") | .partitions' 2>/dev/null) || partitions=""
    [[ $partitions =~ ^[0-9]+$ ]] || partitions=null
    rm -f "$dir/started"
    "$BIN_DIR/loadgen" run --bootstrap-file "$stack_dir/bootstrap" --dev-cluster-tuning true --seed-file "$stack_dir/seed.json" \
        --order-url "$ORDER_URL" --inventory-url "$INVENTORY_URL" --payment-url "$PAYMENT_URL" \
        --notification-url "$NOTIFICATION_URL" --keys "$KEYS_DIR" --rate "$rate" --duration "$DURATION" \
        --ready-file "$dir/started" --report "$dir/report.json" >"$dir/loadgen.log" 2>&1 &
    loadgen_pid=$!
    while [[ ! -s $dir/started ]]; do
        kill -0 "$loadgen_pid" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -s $dir/started ]]; then
        started=$(<"$dir/started")
        sleep_until $((started + WARMUP * 1000))
        sample "$stack_dir" "$loadgen_pid" >"$dir/cpu-start"
        thread_sample "$stack_dir" >"$dir/threads-start"
        metrics_sample "$monitor" >"$dir/metrics-start"
        [[ -z $POSTGRES ]] || pg_window_start "$dir"
        sleep_until $((started + (DURATION - TAIL) * 1000))
        sample "$stack_dir" "$loadgen_pid" >"$dir/cpu-end"
        thread_sample "$stack_dir" >"$dir/threads-end"
        metrics_sample "$monitor" >"$dir/metrics-end"
        [[ -z $POSTGRES ]] || pg_window_end "$dir"
    fi
    local status=0
    wait "$loadgen_pid" || status=$?
    for service in "${SERVICES[@]}"; do
        echo "$service $(peak_rss_mb "$(<"$stack_dir/pids/$service-0.pid")")"
    done >"$dir/rss"
    "$ROOT/deploy/local-stack.sh" --stop "$stack_dir" 2>>"$dir/local-stack.log"
    [[ -s $dir/cpu-end && -s $dir/report.json ]] || die "the load generator failed at $rate/s (status $status): $(tail -n 5 "$dir/loadgen.log")"
    window=$((DURATION - TAIL - WARMUP))
    python3 "$ROOT/deploy/bench/thread_cpu.py" "$dir/threads-start" "$dir/threads-end" \
        --rate "$rate" --window "$window" --ticks "$TICKS" >"$dir/threads.json"
    python3 "$ROOT/deploy/bench/batch_sizes.py" "$dir/metrics-start" "$dir/metrics-end" --orders $((rate * window)) >"$dir/batches.json"
    echo '{}' >"$dir/database.json"
    if [[ -n $POSTGRES ]]; then
        local statements=()
        [[ -s $dir/pg-statements.json ]] && statements=("$dir/pg-statements.json")
        python3 "$ROOT/deploy/bench/pg_breakdown.py" "$dir/pg-xact-start" "$dir/pg-xact-end" "${statements[@]}" \
            --tables "$dir/pg-tables-start" "$dir/pg-tables-end" --orders $((rate * window)) >"$dir/database.json"
    fi
    # CPU ms per order for each process: Δticks / CLK_TCK * 1000 / (rate × window).
    jq -n --rawfile first "$dir/cpu-start" --rawfile last "$dir/cpu-end" --rawfile rss "$dir/rss" \
        --slurpfile report "$dir/report.json" --slurpfile threads "$dir/threads.json" --slurpfile database "$dir/database.json" \
        --slurpfile batches "$dir/batches.json" \
        --argjson ticks "$TICKS" --argjson rate "$rate" --argjson partitions "$partitions" \
        --argjson window "$window" --argjson status "$status" "$JQ_TABLE"'
        (table($first)) as $s | (table($last)) as $e | (table($rss)) as $r | $report[0] as $rep
        | ($e | keys_unsorted | map(select(startswith("machine-") | not))
           | map({key: ., value: (($e[.] - $s[.]) / $ticks * 1000 / ($rate * $window))}) | from_entries) as $cpu
        | {idleCores: (($e["machine-idle"] - $s["machine-idle"]) / $ticks / $window),
           stealCores: (($e["machine-steal"] - $s["machine-steal"]) / $ticks / $window)} as $machine
        | {rate: $rate, partitions: $partitions, windowSeconds: $window,
           cpuMsPerOrder: ($cpu + {services: ([$cpu.order, $cpu.inventory, $cpu.payment, $cpu.notification] | add)}),
           coresUsed: ($cpu | map_values(. * $rate / 1000)), machine: $machine,
           peakRssMB: $r, threadCpuMsPerOrder: $threads[0], database: $database[0], batches: $batches[0],
           achievedRate: $rep.achievedRate, accepted: $rep.counts.accepted, errors: $rep.errors,
           latencyMs: {acceptedToConfirmed: $rep.latencyMs.acceptedToConfirmed, notified: $rep.latencyMs.notified,
                       accepted: $rep.latencyMs.accepted},
           auditPassed: ($rep.verdict == "PASS"), verdict: $rep.verdict, loadgenStatus: $status}' >"$dir/stack.json"
}

# Sleeps until a unix time in ms.
sleep_until() {
    local now
    now=$(date +%s%3N)
    (($1 > now)) && sleep "$(awk -v ms=$(($1 - now)) 'BEGIN { printf "%.3f", ms / 1000 }')"
    return 0
}

# A run whose orders outgrow what orders.v1 keeps loses its oldest records before the audit reads them.
max_rate=0
for rate in "${rate_list[@]}"; do ((rate <= max_rate)) || max_rate=$rate; done
max_orders=$((max_rate * DURATION))
if ((max_orders > ${PARTITIONS:-$DEFAULT_PARTITIONS} * PARTITION_KIB / 2)); then
    needed=$(((max_orders * 3 + PARTITION_KIB - 1) / PARTITION_KIB))
    log "warning: the $max_rate/s run's $max_orders orders outgrow what ${PARTITIONS:-$DEFAULT_PARTITIONS} partitions of the dev cluster keep (~5 MiB each, ~1.6 KB per order on orders.v1): the audit may not be able to check the whole run; give --partitions $(((needed + 11) / 12 * 12))"
fi
log "results in $OUT"
for rate in "${rate_list[@]}"; do
    dir="$OUT/rate-$rate"
    mkdir -p "$dir"
    run_floor "$rate" "$dir"
    run_stack "$rate" "$dir"
    # After the stack: its stopped databases are the floor's templates.
    run_pg_floor "$rate" "$dir"
    jq -n --slurpfile floor "$dir/floor.json" --slurpfile stack "$dir/stack.json" --slurpfile pgfloor "$dir/pg-floor.json" \
        '$stack[0] + {floor: $floor[0], pgFloor: $pgfloor[0], p99OverFloor: (if $floor[0].p99Ms then $stack[0].latencyMs.acceptedToConfirmed.p99 / $floor[0].p99Ms else null end)}' \
        >"$dir/result.json"
done

files=()
for rate in "${rate_list[@]}"; do files+=("$OUT/rate-$rate/result.json"); done
jq -s --arg backend "${POSTGRES:+postgresql}" --argjson duration "$DURATION" \
    '{backend: (if $backend == "" then "sqlite" else $backend end), durationSeconds: $duration,
      partitions: (map(.partitions) | unique | if length == 1 then .[0] else null end), runs: .}' \
    "${files[@]}" >"$OUT/cost.json"
python3 "$ROOT/deploy/bench/cost_report.py" "$OUT/cost.json" --svg "$OUT/cost.svg" | tee "$OUT/cost.txt"
log "wrote $OUT/cost.json, $OUT/cost.svg, $OUT/cost.txt"
