# shellcheck shell=bash disable=SC2034  # FAULT_* are read by evidence.sh and chaos.sh
# The fault classes of deploy/chaos.sh: each has an inject and a heal, and says what it touches
# for the liveness check (FAULT_DETAIL, FAULT_BROKERS, FAULT_INSTANCES, FAULT_PARTITIONS as
# a JSON array or null for every partition), and shows that it was felt or fails (evidence.sh:
# every injection and heal command is checked, and each class looks for its effect). Sourced by
# chaos.sh after evidence.sh, instances.sh, net.sh and postgres.sh; it sets RUN_DIR, CONTROL, BOOTSTRAP_FILE, INSTANCES, POSTGRES, USERS,
# SAGA_TIMEOUT_MS, CHAIN, TARGET, RTT_MS, LOSS, CLOCK_OFFSET and HOLD (seconds a fault lasts).

FAULT_CLASSES=(broker-pause broker-pause-all leader-move cluster-stop brokers-blackhole brokers-reject
    brokers-loss broker-rtt database-blackhole instance-pause kill-mid-round postgres-restart postgres-stop
    lock-holder-pause disk-full clock-ahead clock-behind)

# The consumer session timeout (3 s) and relay lease (10 s TTL) on the dev cluster, with margin.
PAST_LEASE_SECONDS=12

# Why CLASS cannot run on this stack (and status 1), or nothing (status 0).
fault_unsupported() { # class
    local class=${1%%:*}
    case $class in
        broker-pause | broker-pause-all | leader-move | cluster-stop | broker-rtt | instance-pause | kill-mid-round | kill) ;;
        brokers-blackhole | brokers-reject | brokers-loss | database-blackhole | postgres-restart | postgres-stop | lock-holder-pause | disk-full) ;;
        clock-ahead | clock-behind)
            if [[ $1 != *:* || " ${SERVICE_NAMES[*]} " != *" ${1#*:} "* ]]; then
                echo "$class takes a service: $class:order, :inventory, :payment or :notification"
                return 1
            fi
            command -v faketime >/dev/null || { echo "needs faketime (apt-get install faketime)"; return 1; }
            c_compiler >/dev/null || { echo "needs a C compiler (cc, gcc or clang) for deploy/chaos/c11-timedwait.c"; return 1; } ;;
        *) echo "unknown fault class '$1' (classes: ${FAULT_CLASSES[*]}; the clock classes take :SERVICE)"; return 1 ;;
    esac
    case $class in
        brokers-blackhole | brokers-reject | brokers-loss | database-blackhole)
            ((USERS)) || { echo "needs a stack started with --users (one Unix user per instance)"; return 1; } ;;
    esac
    case $class in
        database-blackhole | postgres-restart | postgres-stop)
            [[ -n $POSTGRES ]] || { echo "PostgreSQL only"; return 1; } ;;
        lock-holder-pause)
            if [[ -z $POSTGRES ]] || ((INSTANCES < 2)); then echo "PostgreSQL with two instances or more only"; return 1; fi ;;
        disk-full)
            [[ -z $POSTGRES ]] || { echo "SQLite only"; return 1; }
            [[ $(stat -f -c %T "$RUN_DIR/data" 2>/dev/null) == tmpfs ]] \
                || { echo "needs the data folder on a tmpfs (local-stack.sh --data-tmpfs SIZE)"; return 1; } ;;
    esac
    return 0
}

# How long the fault stays on before its heal.
fault_hold() { # class
    case ${1%%:*} in
        instance-pause) echo $((HOLD > PAST_LEASE_SECONDS ? HOLD : PAST_LEASE_SECONDS)) ;;
        postgres-stop)
            local past=$((SAGA_TIMEOUT_MS / 1000 + 5))
            echo $((HOLD > past ? HOLD : past)) ;;
        kill-mid-round | postgres-restart | kill) echo 0 ;;  # the fault is an event; the window lasts until the restart
        *) echo "$HOLD" ;;
    esac
}

# A control call of the dev cluster; a failure is an error of the fault.
control() { # path
    must curl -fsS -X POST "$CONTROL$1" -o /dev/null
}

# What the dev cluster's status says of its brokers, one line per broker: id state rttMs leaderCount.
broker_states() {
    curl -fsS "$CONTROL/status" | jq -r '.brokers[] | "\(.id) \(.state) \(.rttMs) \(.leaderCount)"'
}

# Evidence from the status that every broker in the list is in the state (and rtt) asked for.
expect_brokers() { # "ids" state [rtt_ms]
    local id state rtt seen
    seen=$(broker_states) || { fault_error "GET $CONTROL/status failed"; return 0; }
    for id in $1; do
        read -r _ state rtt _ <<<"$(awk -v id="$id" '$1 == id' <<<"$seen")"
        if [[ $state == "$2" && ( -z ${3:-} || $rtt == "$3" ) ]]; then
            felt "broker $id is $state${3:+ with rtt ${rtt} ms} (dev cluster status)"
        else
            fault_error "broker $id is '${state:-unknown}' (rtt ${rtt:-?} ms) after the control call, not $2${3:+ with rtt $3 ms}"
        fi
    done
}

# A pause's hold: a little longer than the fault, not the dev cluster's "until resume" hour. The
# mock arms each connection's write timer for the pause's end and does not re-arm it earlier,
# so after a resume from an hour-long pause a response the broker delays itself (an empty
# fetch waits fetch.wait.max.ms) waits until the client times out (see Tools/DevCluster/README.md).
pause_ms() { # seconds
    echo $(($1 * 1000 + 200))
}

# Partitions (by number, over the saga topics) that a broker leads now, as a JSON array.
partitions_led_by() { # broker
    curl -fsS "$CONTROL/status" | jq -c --argjson broker "$1" \
        '[.topics[] | select(.name == "orders.v1" or .name == "inventory.v1" or .name == "payments.v1")
          | .leaders | to_entries[] | select(.value == $broker) | .key] | unique'
}

BROKER_COUNT=3
NEXT_BROKER=1
NEXT_KILL=0

fault_inject() { # class
    FAULT_DETAIL="" FAULT_BROKERS="" FAULT_INSTANCES="" FAULT_PARTITIONS=null
    evidence_reset
    local class=${1%%:*} service=${1#*:} name pid
    case $class in
        broker-pause)
            FAULT_BROKERS=$NEXT_BROKER
            NEXT_BROKER=$((NEXT_BROKER % BROKER_COUNT + 1))
            FAULT_PARTITIONS=$(partitions_led_by "$FAULT_BROKERS")
            control "/brokers/$FAULT_BROKERS/pause?ms=$(pause_ms "$HOLD")" && expect_brokers "$FAULT_BROKERS" paused
            FAULT_CUT=true
            FAULT_DETAIL="paused broker $FAULT_BROKERS: it holds every response" ;;
        broker-pause-all)
            FAULT_BROKERS=$(seq -s ' ' 1 "$BROKER_COUNT")
            control "/brokers/all/pause?ms=$(pause_ms "$HOLD")" && expect_brokers "$FAULT_BROKERS" paused
            FAULT_CUT=true
            FAULT_DETAIL="paused brokers $FAULT_BROKERS: they hold every response" ;;
        leader-move)
            FAULT_BROKERS=$LEADER_BROKER
            FAULT_PARTITIONS=$(partitions_led_by "$LEADER_BROKER")
            if control "/brokers/$LEADER_BROKER/evacuate"; then
                local led
                led=$(partitions_led_by "$LEADER_BROKER")
                if [[ $led == "[]" ]]; then felt "broker $LEADER_BROKER leads nothing after the move (it led $FAULT_PARTITIONS)"
                else fault_error "broker $LEADER_BROKER still leads partitions $led after the move"; fi
            fi
            FAULT_DETAIL="moved leaders and coordinators off broker $LEADER_BROKER (back at the heal)" ;;
        cluster-stop)
            pid=$(<"$RUN_DIR/pids/dev-cluster.pid")
            must kill -STOP "$pid" && expect_stopped "$pid" "the dev cluster"
            FAULT_BROKERS=$(seq -s ' ' 1 "$BROKER_COUNT")
            FAULT_CUT=true
            FAULT_DETAIL="SIGSTOP the whole dev cluster (pid $pid)" ;;
        brokers-blackhole | brokers-reject | brokers-loss | database-blackhole)
            name=$(relay_holder "$TARGET")
            FAULT_INSTANCES=$name
            must net_setup "$CHAIN"
            local action=drop ports
            [[ $class == brokers-reject ]] && action=reject
            [[ $class == brokers-loss ]] && action=loss
            if [[ $class == database-blackhole ]]; then ports=$(pg_port); else ports=$(broker_ports "$BOOTSTRAP_FILE" | paste -sd ' ' -); fi
            [[ -n $ports ]] || fault_error "no port to cut (bootstrap $BOOTSTRAP_FILE, PostgreSQL $POSTGRES)"
            # shellcheck disable=SC2086  # ports: one word per port
            must net_block "$CHAIN" "saga-$name" "$action" "$LOSS" $ports
            # The only instance cut off stops the flow; with two, the other takes over.
            [[ $class != brokers-loss ]] && ((INSTANCES == 1)) && FAULT_CUT=true
            case $class in
                brokers-blackhole) FAULT_DETAIL="$name's packets to the brokers dropped" ;;
                brokers-reject) FAULT_DETAIL="$name's connections to the brokers reset" ;;
                brokers-loss) FAULT_DETAIL="$name loses $(awk -v p="$LOSS" 'BEGIN { print p * 100 }') % of its packets to the brokers" ;;
                database-blackhole) FAULT_DETAIL="$name's packets to PostgreSQL dropped" ;;
            esac
            FAULT_DETAIL+=" ($(net_rule_count "$CHAIN") iptables rules)" ;;
        broker-rtt)
            FAULT_BROKERS=$(seq -s ' ' 1 "$BROKER_COUNT")
            control "/brokers/all/rtt?ms=$RTT_MS" && expect_brokers "$FAULT_BROKERS" up "$RTT_MS"
            FAULT_DETAIL="every broker answers $RTT_MS ms late" ;;
        instance-pause)
            name=$(relay_holder "$TARGET")
            FAULT_INSTANCES=$name
            pid=$(instance_pid "$name")
            must kill -STOP "$pid" && expect_stopped "$pid" "$name"
            ((INSTANCES == 1)) && FAULT_CUT=true
            FAULT_DETAIL="SIGSTOP $name (relay lease holder) past its session timeout and lease" ;;
        lock-holder-pause)
            name=inventory-$((INSTANCES - 1))
            FAULT_INSTANCES=$name
            pause_holding_locks "$name" ;;
        kill-mid-round)
            name=$(relay_holder "$TARGET")
            FAULT_INSTANCES=$name
            FAULT_BROKERS=1
            kill_mid_round "$name" 1 ;;
        kill)
            name=${SERVICE_NAMES[NEXT_KILL]}-$KILL_INSTANCE
            NEXT_KILL=$(((NEXT_KILL + 1) % ${#SERVICE_NAMES[@]}))
            FAULT_INSTANCES=$name
            pid=$(instance_pid "$name")
            stop_instance "$name" KILL
            expect_gone "$pid" "$name"
            event "SIGKILL $name (pid $pid)"
            start_instance "$name"
            FAULT_DETAIL="SIGKILL $name and start it again"
            event "restarted $name (pid $(instance_pid "$name"))" ;;
        postgres-restart)
            local before after
            before=$(pg_query "SELECT pg_postmaster_start_time()")
            must pg_control restart -m fast
            wait_for pg_ready 60 || fault_error "PostgreSQL not ready 60 s after its restart"
            after=$(pg_query "SELECT pg_postmaster_start_time()")
            if [[ -n $after && $after != "$before" ]]; then felt "PostgreSQL's start time went from '$before' to '$after'"
            else fault_error "PostgreSQL's start time did not change ('$before', then '$after'): it did not restart"; fi
            FAULT_DETAIL="PostgreSQL restarted (fast shutdown)" ;;
        postgres-stop)
            must pg_control stop -m fast
            if pg_ready; then fault_error "PostgreSQL still accepts connections after its stop"
            else felt "PostgreSQL refuses connections (pg_isready)"; fi
            FAULT_CUT=true
            FAULT_DETAIL="PostgreSQL stopped past the saga deadline ($((SAGA_TIMEOUT_MS / 1000)) s)" ;;
        disk-full)
            # dd stops at the first write the filesystem refuses: ENOSPC is what shows it is full.
            local out
            out=$(dd if=/dev/zero of="$RUN_DIR/data/ballast" bs=1M status=none 2>&1) || true
            if [[ $out == *"No space left on device"* ]]; then felt "${out//$'\n'/ } (ENOSPC)"
            else fault_error "filling data/ did not end with ENOSPC: ${out:-dd said nothing}"; fi
            FAULT_DETAIL="data/ full: $(du -m "$RUN_DIR/data/ballast" | cut -f1) MB of ballast, $(df --output=avail -k "$RUN_DIR/data" | tail -n 1 | tr -d ' ') kB left" ;;
        clock-ahead | clock-behind)
            local sign=+
            [[ $class == clock-behind ]] && sign=-
            for name in $(instances_of "$service"); do
                restart_instance "$name" env "LD_PRELOAD=$(timedwait_shim)" FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$sign${CLOCK_OFFSET}s"
                expect_clock_offset "$name" "$sign${CLOCK_OFFSET}000"
                FAULT_INSTANCES+="$name "
            done
            FAULT_DETAIL="$service restarted with its wall clock ${sign}${CLOCK_OFFSET} s (monotonic untouched)" ;;
    esac
}

# A clock fault shows in the instance's own report: /readyz's wallClockOffsetMs (its wall clock
# minus the database's) within a few seconds of the offset asked for.
CLOCK_TOLERANCE_MS=5000
expect_clock_offset() { # name expected_ms
    local offset
    offset=$(curl -fsS --max-time 5 "$(instance_url "$1")/readyz" 2>/dev/null | jq -r '.wallClockOffsetMs // empty')
    if [[ ! $offset =~ ^-?[0-9]+$ ]]; then
        fault_error "$1 reports no wall clock offset (/readyz wallClockOffsetMs)"
    elif ((offset - $2 > CLOCK_TOLERANCE_MS || $2 - offset > CLOCK_TOLERANCE_MS)); then
        fault_error "$1's wall clock is $offset ms off the database's, not $2 ms"
    else
        felt "$1's wall clock is $offset ms off the database's (/readyz)"
    fi
}

# SIGKILL is immediate; the process is reaped by its parent, so gone means no /proc entry or a zombie.
expect_gone() { # pid what
    local state
    state=$(process_state "$1")
    if [[ -z $state || $state == Z ]]; then felt "$2 (pid $1) killed"
    else fault_error "$2 (pid $1) still runs (state $state) after SIGKILL"; fi
}

c_compiler() {
    local cc
    for cc in ${CC:-} cc gcc clang; do
        command -v "$cc" && return 0
    done
    return 1
}

# The shim that lets libfaketime see librdkafka's timed waits (deploy/chaos/c11-timedwait.c),
# built once per run where every instance's user can read it.
timedwait_shim() {
    local shim=$RUN_DIR/c11-timedwait.so
    if [[ ! -e $shim ]]; then
        "$(c_compiler)" -shared -fPIC -O2 -o "$shim" "$ROOT/deploy/chaos/c11-timedwait.c" -lpthread >&2
        chmod 755 "$shim"
    fi
    echo "$shim"
}

fault_heal() { # class
    local class=${1%%:*} service=${1#*:} name pid
    case $class in
        broker-pause) control "/brokers/$FAULT_BROKERS/resume" ;;
        broker-pause-all) control "/brokers/all/resume" ;;
        leader-move) control "/leaders/rebalance" ;;
        cluster-stop) must kill -CONT "$(<"$RUN_DIR/pids/dev-cluster.pid")" ;;
        brokers-blackhole | brokers-reject | brokers-loss | database-blackhole)
            expect_packets_matched "$CHAIN" "$FAULT_DETAIL"
            must iptables -w -F "$CHAIN" ;;
        broker-rtt) control "/brokers/all/rtt?ms=0" ;;
        instance-pause | lock-holder-pause)
            pid=$(instance_pid "$FAULT_INSTANCES")
            local state
            state=$(process_state "$pid")
            [[ $state == T || $state == t ]] || fault_error "$FAULT_INSTANCES (pid $pid) was no longer stopped at the heal (state '${state:-gone}')"
            must kill -CONT "$pid" ;;
        postgres-stop)
            must pg_control start
            wait_for pg_ready 60 || fault_error "PostgreSQL not ready 60 s after its start" ;;
        disk-full) must rm "$RUN_DIR/data/ballast" ;;
        clock-ahead | clock-behind)
            for name in $(instances_of "$service"); do
                restart_instance "$name"
                expect_clock_offset "$name" 0
            done ;;
        kill-mid-round | postgres-restart | kill) ;;
    esac
}

wait_for() { # command seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        "$1" && return 0
        sleep 0.1
    done
    return 1
}

# SIGKILL while a relay round is on the wire with part of its acks back: the broker holds the
# acks of the partitions it leads (records already appended), the others answer; then the
# instance starts again and republishes what it had not deleted.
kill_mid_round() { # name broker
    local name=$1 broker=$2 before acked pid
    before=$(metric_sum "$name" messaging_relay_published_total)
    control "/brokers/$broker/pause?ms=$(pause_ms 3)"
    sleep 1
    acked=$(($(metric_sum "$name" messaging_relay_published_total | cut -d. -f1) - ${before%%.*}))
    pid=$(instance_pid "$name")
    stop_instance "$name" KILL
    expect_gone "$pid" "$name"
    control "/brokers/$broker/resume"
    event "SIGKILL $name (pid $pid) while broker $broker held its acks; $acked rows acknowledged by the others meanwhile"
    start_instance "$name"
    wait_instance_ready "$name" 60 || fault_error "$name not ready 60 s after its restart"
    FAULT_DETAIL="SIGKILL $name mid-round (broker $broker held its acks, $acked rows acknowledged by the others in that second), restarted"
}

# SIGSTOP an instance at a moment its database connections sit in a transaction that wrote rows:
# it then holds those row locks for as long as it is stopped. Tries until it catches one.
pause_holding_locks() { # name
    local name=$1 pid ports open=0 try
    pid=$(instance_pid "$name")
    ports=$(pg_client_ports "$pid")
    for ((try = 1; try <= 300; try++)); do
        kill -STOP "$pid"
        sleep 0.02  # statements on the wire finish; the transaction stays open
        open=$(pg_open_write_transactions "$ports")
        ((open > 0)) && break
        kill -CONT "$pid"
        sleep 0.03
    done
    if ((open > 0)); then
        felt "$name held row locks in $open open transactions when it stopped (pg_stat_activity, try $try)"
        expect_stopped "$pid" "$name"
        FAULT_DETAIL="SIGSTOP $name while $open of its transactions held row locks (try $try)"
    else
        # Paused anyway, so the heal has something to continue; but the fault is not this class's.
        kill -STOP "$pid"
        fault_error "$name held no row locks in 300 tries (connections: ${ports:-none})"
        FAULT_DETAIL="SIGSTOP $name; it held no row locks in 300 tries"
    fi
}

# Appends the window of the fault just healed to the fault-windows file (see windows.sh).
fault_write_window() { # file class start end [healed]
    # shellcheck disable=SC2086  # word lists to JSON arrays
    write_window "$1" "$2" "$FAULT_DETAIL" "$3" "$4" "$(json_ints $FAULT_BROKERS)" \
        "$(jq -cn '$ARGS.positional' --args $FAULT_INSTANCES)" "$FAULT_PARTITIONS" "${5:-}" "$(evidence_json)"
}
