#!/usr/bin/env bash
# The PostgreSQL floor: the least SQL one order needs in the four service databases, run with
# pgbench at an order rate, and the PostgreSQL server's CPU per order (hoplimit.sh is Kafka's floor).
#
#   deploy/bench/pg-floor.sh --postgres postgres://saga:saga@127.0.0.1:5432 --rate 200 --duration 20
#
# Creates pgfloor_order, pgfloor_inventory, pgfloor_payment and pgfloor_notification (dropped and
# recreated each run) as copies of saga_order ... saga_notification, the databases a local stack on
# PostgreSQL migrates and leaves behind (stopped), every table emptied and the floor's rows added
# (deploy/bench/pg_floor.py writes them and the scripts), then runs one pgbench per database at
# once, -M prepared, at rate/K transactions per second: one pgbench transaction is that service's
# SQL for a batch of K orders (the POST transactions one per order, the consumer's transaction
# once per batch with set-based statements, the delivery worker and the outbox relay once per
# batch). Prints one line,
#   pgfloor: N orders at R/s in S s (batch K); server CPU X ms/order; transactions/order T; statements/order Q; ...
# Server CPU is the postmaster's tree (utime+stime, plus its reaped children) as cost-bench.sh
# measures it, over the pgbench run (connections included); the whole server is counted, so other
# databases' work in the window is counted too (the line says how many of their transactions ran).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POSTGRES=""
RATE=""
DURATION=""
BATCH=10
CLIENTS=4
JSON=""
KEEP=""
TEMPLATE_PREFIX=saga_
SERVICES=(order inventory payment notification)

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --postgres URL    the server, without a database (the role must be allowed to CREATE DATABASE
                    and own the template databases, as local-stack.sh creates them)
  --template-prefix P
                    copy the tables of databases P<service> (default saga_, those of
                    deploy/local-stack.sh --postgres URL; create them once with
                    deploy/local-stack.sh --postgres URL --skip-load --run-dir DIR, then
                    deploy/local-stack.sh --stop DIR)
  --rate R          orders per second
  --duration S      seconds of load (the run sends R × S orders, rounded to whole batches per client)
  --batch K         orders per consumer batch (default 10)
  --clients N       pgbench clients per database (default 4); each is a consumer of its own partitions
  --json PATH       also write the result as JSON
  --keep DIR        keep the generated scripts and pgbench's output there (default: a temporary directory)
EOF
}

while (($#)); do
    case "$1" in
        --postgres) POSTGRES=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --json) JSON=$2; shift 2 ;;
        --keep) KEEP=$2; shift 2 ;;
        --template-prefix) TEMPLATE_PREFIX=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "pg-floor: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '%s pg-floor: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -n $POSTGRES ]] || die "--postgres URL is required (e.g. postgres://saga:saga@127.0.0.1:5432)"
for value in "$RATE" "$DURATION" "$BATCH" "$CLIENTS"; do
    [[ $value =~ ^[1-9][0-9]*$ ]] || die "--rate, --duration, --batch and --clients take whole positive numbers, got '$value'"
done
[[ $TEMPLATE_PREFIX =~ ^[a-z_][a-z0-9_]*$ ]] || die "--template-prefix takes lower-case letters, digits and _, got '$TEMPLATE_PREFIX'"
POSTGRES=${POSTGRES%/}
PGBENCH=$(command -v pgbench || true)
if [[ -z $PGBENCH ]]; then
    for candidate in /usr/lib/postgresql/*/bin/pgbench; do [[ -x $candidate ]] && PGBENCH=$candidate; done
fi
[[ -n $PGBENCH ]] || die "no pgbench on PATH nor in /usr/lib/postgresql/*/bin (apt-get install postgresql-contrib or postgresql-client)"
command -v psql >/dev/null || die "psql is needed (apt-get install postgresql-client)"
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
command -v python3 >/dev/null || die "python3 is needed"

if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP"
    WORK=$(cd "$KEEP" && pwd)
else
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
fi
TICKS=$(getconf CLK_TCK)

# shellcheck source=deploy/bench/proc_stats.sh
source "$HERE/proc_stats.sh"

pg_sql() { # database sql
    psql "$POSTGRES/$1" --no-psqlrc -X -q -tA -v ON_ERROR_STOP=1 -c "$2" </dev/null
}

# Transactions per database (pg_stat_database), and statements per floor database when
# pg_stat_statements is there (the helper SELECT that draws ids is left out).
xacts() { pg_sql postgres "SELECT datname || '|' || (xact_commit + xact_rollback) FROM pg_stat_database WHERE datname IS NOT NULL"; }
statements() {
    pg_sql postgres "SELECT d.datname || '|' || sum(s.calls) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                     WHERE d.datname LIKE 'pgfloor\_%' AND s.query NOT LIKE '%pgfloor_gen%' GROUP BY d.datname" 2>/dev/null || true
}

# CREATE DATABASE ... TEMPLATE needs the template to itself. A stack that has just stopped may
# still be closing its sessions: wait a few seconds, then terminate those left (each one this role
# may terminate; an autovacuum worker ends on its own).
clone_template() { # service
    local template=$TEMPLATE_PREFIX$1 target=pgfloor_$1 attempt error sessions pid
    for attempt in {1..20}; do
        error=$(pg_sql postgres "CREATE DATABASE $target TEMPLATE $template" 2>&1 >/dev/null) && return 0
        [[ $error == *"is being accessed by other users"* ]] || die "cannot create $target from $template: $error"
        sessions=$(pg_sql postgres "SELECT string_agg(pid || ' (' || coalesce(usename, '-') || ', ' || coalesce(nullif(application_name, ''), backend_type) || ')', ', ')
                                   FROM pg_stat_activity WHERE datname = '$template' AND pid <> pg_backend_pid()")
        if ((attempt >= 5)); then
            ((attempt > 5)) || log "terminating the sessions still connected to $template: ${sessions:-none}"
            for pid in $(pg_sql postgres "SELECT pid FROM pg_stat_activity WHERE datname = '$template' AND pid <> pg_backend_pid()"); do
                pg_sql postgres "SELECT pg_terminate_backend($pid)" >/dev/null 2>&1 || true
            done
        fi
        sleep 1
    done
    die "$template is still in use by ${sessions:-other sessions}, which this role may not terminate: stop the stack using it (deploy/local-stack.sh --stop RUN_DIR) and run again"
}

python3 "$HERE/pg_floor.py" --batch "$BATCH" --out "$WORK" >"$WORK/counts.json"
pg_isready -d "$POSTGRES/postgres" -q 2>/dev/null || pg_sql postgres "SELECT 1" >/dev/null || die "PostgreSQL at $POSTGRES does not answer"
missing=()
for service in "${SERVICES[@]}"; do
    [[ $(pg_sql postgres "SELECT 1 FROM pg_database WHERE datname = '$TEMPLATE_PREFIX$service'") == 1 ]] || missing+=("$TEMPLATE_PREFIX$service")
done
((${#missing[@]} == 0)) || die "no database ${missing[*]} on $POSTGRES to copy the services' tables from; create them once with (local-stack.sh builds the release first; --bin-dir DIR or --no-build to use a build)
    deploy/local-stack.sh --postgres $POSTGRES --skip-load --run-dir DIR && deploy/local-stack.sh --stop DIR"
# The services' own tables, as their migrations made them: a copy of the template, every table
# emptied but schema_migrations (kept: it says which migrations made them), the floor's rows, statistics.
for service in "${SERVICES[@]}"; do
    pg_sql postgres "DROP DATABASE IF EXISTS pgfloor_$service" 2>/dev/null
    clone_template "$service"
    tables=$(pg_sql "pgfloor_$service" "SELECT string_agg(format('public.%I', tablename), ', ' ORDER BY tablename)
                                        FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")
    [[ -n $tables ]] || die "$TEMPLATE_PREFIX$service has no tables: its service never migrated it (run the stack on it once)"
    psql "$POSTGRES/pgfloor_$service" --no-psqlrc -X -q -v ON_ERROR_STOP=1 -1 -c "TRUNCATE $tables RESTART IDENTITY" \
        -f "$WORK/$service-seed.sql" -c "ANALYZE $tables" >/dev/null </dev/null || die "cannot empty and seed pgfloor_$service"
    echo "$service|$(pg_sql "pgfloor_$service" "SELECT count(*) FROM schema_migrations" 2>/dev/null || echo 0)"
done >"$WORK/migrations"

# Whole batches per client, at rate/K batches per second over all clients of a database.
PER_CLIENT=$(((RATE * DURATION + BATCH * CLIENTS - 1) / (BATCH * CLIENTS)))
ORDERS=$((PER_CLIENT * CLIENTS * BATCH))
BATCH_RATE=$(awk -v r="$RATE" -v k="$BATCH" 'BEGIN { printf "%.3f", r / k }')
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
DEFINES=(-D "headers=\\x$(hex 250)" -D "payload=\\x$(hex 150)" -D zero=0 -D relay_batch=1000 -D lease=outbox
         -D holder=pgfloor -D epoch=1 -D due_batch=200 -D claim_until=9000000000000 -D detail=confirmed
         -D traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
         -D "message=Your order is confirmed and on its way. Thank you for shopping with us.")

log "$ORDERS orders at $RATE/s (batch $BATCH, $CLIENTS clients per database, $BATCH_RATE batches/s each) with $PGBENCH"
xacts >"$WORK/xact-start"
statements >"$WORK/statements-start"
server_start=$(postgres_ticks)
started=$(date +%s%3N)
# `times` in the subshell reports what its children (the four pgbench) used.
(
    TIMEFORMAT=
    for service in "${SERVICES[@]}"; do
        "$PGBENCH" -n -M prepared -c "$CLIENTS" -j 1 -R "$BATCH_RATE" -t "$PER_CLIENT" -f "$WORK/$service.pgbench" \
            "${DEFINES[@]}" "$POSTGRES/pgfloor_$service" >"$WORK/$service.out" 2>&1 &
    done
    wait
    times
) >"$WORK/times"
ended=$(date +%s%3N)
server_end=$(postgres_ticks)
xacts >"$WORK/xact-end"
statements >"$WORK/statements-end"

pgbench_ms=$(tail -n 1 "$WORK/times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }')
for service in "${SERVICES[@]}"; do
    out="$WORK/$service.out"
    if grep -q "aborted\|error" "$out"; then log "pgbench on pgfloor_$service reported errors: $(grep -m 3 'aborted\|error' "$out" | tr '\n' ' ')"; fi
    processed=$(awk -F'[:/ ]+' '/number of transactions actually processed/ { print $6 }' "$out")
    failed=$(awk -F'[: ]+' '/number of failed transactions/ { print $5 }' "$out")
    latency=$(awk '/^latency average/ { print $4 }' "$out")
    lag=$(awk '/^rate limit schedule lag/ { print $6 }' "$out")
    jq -n --arg s "$service" --argjson processed "${processed:-0}" --argjson failed "${failed:-0}" \
        --argjson latency "${latency:-null}" --argjson lag "${lag:-null}" \
        '{($s): {batches: $processed, failed: $failed, batchLatencyAvgMs: $latency, scheduleLagAvgMs: $lag}}'
done | jq -s 'add' >"$WORK/pgbench.json"

python3 - "$WORK" "$ORDERS" "$RATE" "$BATCH" "$CLIENTS" "$(((server_end - server_start) * 1000 / TICKS))" "$pgbench_ms" \
    "$((ended - started))" >"$WORK/result.json" <<'EOF'
import json, sys
work, orders, rate, batch, clients, server_ms, pgbench_ms, wall_ms = sys.argv[1], *map(int, sys.argv[2:])

def table(path):
    rows = {}
    for line in open(path):
        name, _, value = line.strip().rpartition("|")
        if name and value:
            rows[name] = int(value)
    return rows

counts = json.load(open(f"{work}/counts.json"))["services"]
migrations = table(f"{work}/migrations")
runs = json.load(open(f"{work}/pgbench.json"))
x0, x1 = table(f"{work}/xact-start"), table(f"{work}/xact-end")
s0, s1 = table(f"{work}/statements-start"), table(f"{work}/statements-end")
services = {}
for name, count in counts.items():
    db = f"pgfloor_{name}"
    done = runs.get(name, {}).get("batches", 0) * batch
    services[name] = dict(runs.get(name, {}), orders=done, schemaMigrations=migrations.get(name),
                          transactionsPerOrder=count["transactionsPerBatch"] / batch,
                          statementsPerOrder=count["statementsPerBatch"] / batch,
                          measuredTransactionsPerOrder=round((x1.get(db, 0) - x0.get(db, 0)) / done, 3) if done else None,
                          measuredStatementsPerOrder=round((s1.get(db, 0) - s0.get(db, 0)) / done, 3) if done and db in s1 else None)
done = min(s["orders"] for s in services.values())
other = sum(v - x0.get(k, 0) for k, v in x1.items() if not k.startswith("pgfloor_"))
per_order = lambda value: round(value / done, 4) if done else None
result = {
    "orders": done, "ordersPlanned": orders, "ratePerSecond": rate, "batch": batch, "clientsPerDatabase": clients,
    "seconds": round(wall_ms / 1000, 1), "serverCpuMs": server_ms, "serverCpuMsPerOrder": per_order(server_ms),
    "pgbenchCpuMsPerOrder": per_order(pgbench_ms),
    "transactionsPerOrder": round(sum(s["transactionsPerOrder"] for s in services.values()), 3),
    "statementsPerOrder": round(sum(s["statementsPerOrder"] for s in services.values()), 3),
    "measuredTransactionsPerOrder": per_order(sum(x1.get(f"pgfloor_{n}", 0) - x0.get(f"pgfloor_{n}", 0) for n in services)),
    "measuredStatementsPerOrder": (round(sum(s["measuredStatementsPerOrder"] or 0 for s in services.values()), 3)
                                   if all(s["measuredStatementsPerOrder"] is not None for s in services.values()) else None),
    "otherDatabasesTransactions": other,
    "services": services,
}
latency = "/".join(f"{s.get('batchLatencyAvgMs') or 0:.1f}" for s in services.values())
lag = max((s.get("scheduleLagAvgMs") or 0) for s in services.values())
result["line"] = (f"pgfloor: {done} orders at {rate}/s in {result['seconds']} s (batch {batch}); "
                  f"server CPU {result['serverCpuMsPerOrder']:.3f} ms/order; transactions/order {result['transactionsPerOrder']:.2f} "
                  f"(pg_stat_database {result['measuredTransactionsPerOrder']:.2f}); statements/order {result['statementsPerOrder']:.1f}"
                  + (f" (pg_stat_statements {result['measuredStatementsPerOrder']:.1f})" if result["measuredStatementsPerOrder"] is not None else "")
                  + f"; pgbench CPU {result['pgbenchCpuMsPerOrder']:.3f} ms/order; batch latency avg o/i/p/n {latency} ms (lag avg max {lag:.1f} ms)"
                  + (f"; other databases ran {other} transactions meanwhile" if other else ""))
json.dump(result, sys.stdout)
EOF
line=$(jq -r .line "$WORK/result.json")
echo "$line"
[[ -z $JSON ]] || cp "$WORK/result.json" "$JSON"
for service in "${SERVICES[@]}"; do
    failed=$(jq -r --arg s "$service" '.services[$s].batches' "$WORK/result.json")
    ((failed == PER_CLIENT * CLIENTS)) || log "pgfloor_$service finished $failed of $((PER_CLIENT * CLIENTS)) batches (see pgbench's output${KEEP:+ in $WORK/$service.out})"
done
