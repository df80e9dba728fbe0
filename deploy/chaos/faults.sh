# shellcheck shell=bash
# The fault classes of deploy/chaos.sh: each has an inject and a heal, and says what it touches
# for the liveness check (FAULT_DETAIL, FAULT_BROKERS, FAULT_INSTANCES, FAULT_PARTITIONS as
# a JSON array or null for every partition). Sourced by chaos.sh after instances.sh, net.sh and
# postgres.sh; it sets RUN_DIR, CONTROL, BOOTSTRAP_FILE, INSTANCES, POSTGRES, USERS,
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

control() { curl -fsS -X POST "$CONTROL$1" -o /dev/null || event "control call $1 failed"; }

# A pause's hold: a little longer than the fault, not the dev cluster's "until resume" hour. The
# mock arms each connection's write timer for the pause's end and does not re-arm it earlier,
# so after a resume from an hour-long pause a response the broker delays itself (an empty
# fetch waits fetch.wait.max.ms) waits until the client times out (see Services/DevCluster/README.md).
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
    local class=${1%%:*} service=${1#*:} name pid
    case $class in
        broker-pause)
            FAULT_BROKERS=$NEXT_BROKER
            NEXT_BROKER=$((NEXT_BROKER % BROKER_COUNT + 1))
            FAULT_PARTITIONS=$(partitions_led_by "$FAULT_BROKERS")
            control "/brokers/$FAULT_BROKERS/pause?ms=$(pause_ms "$HOLD")"
            FAULT_DETAIL="paused broker $FAULT_BROKERS: it holds every response" ;;
        broker-pause-all)
            FAULT_BROKERS=$(seq -s ' ' 1 "$BROKER_COUNT")
            control "/brokers/all/pause?ms=$(pause_ms "$HOLD")"
            FAULT_DETAIL="paused brokers $FAULT_BROKERS: they hold every response" ;;
        leader-move)
            FAULT_BROKERS=$LEADER_BROKER
            FAULT_PARTITIONS=$(partitions_led_by "$LEADER_BROKER")
            control "/brokers/$LEADER_BROKER/evacuate"
            FAULT_DETAIL="moved leaders and coordinators off broker $LEADER_BROKER (back at the heal)" ;;
        cluster-stop)
            pid=$(<"$RUN_DIR/pids/dev-cluster.pid")
            kill -STOP "$pid"
            FAULT_BROKERS=$(seq -s ' ' 1 "$BROKER_COUNT")
            FAULT_DETAIL="SIGSTOP the whole dev cluster (pid $pid)" ;;
        brokers-blackhole | brokers-reject | brokers-loss | database-blackhole)
            name=$(relay_holder "$TARGET")
            FAULT_INSTANCES=$name
            net_setup "$CHAIN"
            local action=drop ports
            [[ $class == brokers-reject ]] && action=reject
            [[ $class == brokers-loss ]] && action=loss
            if [[ $class == database-blackhole ]]; then ports=$(pg_port); else ports=$(broker_ports "$BOOTSTRAP_FILE" | paste -sd ' ' -); fi
            # shellcheck disable=SC2086  # ports: one word per port
            net_block "$CHAIN" "saga-$name" "$action" "$LOSS" $ports
            case $class in
                brokers-blackhole) FAULT_DETAIL="$name's packets to the brokers dropped" ;;
                brokers-reject) FAULT_DETAIL="$name's connections to the brokers reset" ;;
                brokers-loss) FAULT_DETAIL="$name loses $(awk -v p="$LOSS" 'BEGIN { print p * 100 }') % of its packets to the brokers" ;;
                database-blackhole) FAULT_DETAIL="$name's packets to PostgreSQL dropped" ;;
            esac
            FAULT_DETAIL+=" ($(net_rule_count "$CHAIN") iptables rules)" ;;
        broker-rtt)
            FAULT_BROKERS=$(seq -s ' ' 1 "$BROKER_COUNT")
            control "/brokers/all/rtt?ms=$RTT_MS"
            FAULT_DETAIL="every broker answers $RTT_MS ms late" ;;
        instance-pause)
            name=$(relay_holder "$TARGET")
            FAULT_INSTANCES=$name
            kill -STOP "$(instance_pid "$name")"
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
            event "SIGKILL $name (pid $pid)"
            start_instance "$name"
            FAULT_DETAIL="SIGKILL $name and start it again"
            event "restarted $name (pid $(instance_pid "$name"))" ;;
        postgres-restart)
            pg_control restart -m fast || event "PostgreSQL restart failed"
            wait_for pg_ready 60 || event "PostgreSQL not ready 60 s after its restart"
            FAULT_DETAIL="PostgreSQL restarted (fast shutdown)" ;;
        postgres-stop)
            pg_control stop -m fast || event "PostgreSQL stop failed"
            FAULT_DETAIL="PostgreSQL stopped past the saga deadline ($((SAGA_TIMEOUT_MS / 1000)) s)" ;;
        disk-full)
            dd if=/dev/zero of="$RUN_DIR/data/ballast" bs=1M status=none 2>/dev/null || true
            FAULT_DETAIL="data/ full: $(du -m "$RUN_DIR/data/ballast" | cut -f1) MB of ballast, $(df --output=avail -k "$RUN_DIR/data" | tail -n 1 | tr -d ' ') kB left" ;;
        clock-ahead | clock-behind)
            local sign=+
            [[ $class == clock-behind ]] && sign=-
            for name in $(instances_of "$service"); do
                restart_instance "$name" env "LD_PRELOAD=$(timedwait_shim)" FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$sign${CLOCK_OFFSET}s"
                FAULT_INSTANCES+="$name "
            done
            FAULT_DETAIL="$service restarted with its wall clock ${sign}${CLOCK_OFFSET} s (monotonic untouched)" ;;
    esac
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
    local class=${1%%:*} service=${1#*:} name
    case $class in
        broker-pause) control "/brokers/$FAULT_BROKERS/resume" ;;
        broker-pause-all) control "/brokers/all/resume" ;;
        leader-move) control "/leaders/rebalance" ;;
        cluster-stop) kill -CONT "$(<"$RUN_DIR/pids/dev-cluster.pid")" ;;
        brokers-blackhole | brokers-reject | brokers-loss | database-blackhole) net_heal "$CHAIN" ;;
        broker-rtt) control "/brokers/all/rtt?ms=0" ;;
        instance-pause | lock-holder-pause) kill -CONT "$(instance_pid "$FAULT_INSTANCES")" ;;
        postgres-stop)
            pg_control start || event "PostgreSQL start failed"
            wait_for pg_ready 60 || event "PostgreSQL not ready 60 s after its start" ;;
        disk-full) rm -f "$RUN_DIR/data/ballast" ;;
        clock-ahead | clock-behind)
            for name in $(instances_of "$service"); do restart_instance "$name"; done ;;
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
    control "/brokers/$broker/resume"
    event "SIGKILL $name (pid $pid) while broker $broker held its acks; $acked rows acknowledged by the others meanwhile"
    start_instance "$name"
    wait_instance_ready "$name" 60 || event "$name not ready 60 s after its restart"
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
        FAULT_DETAIL="SIGSTOP $name while $open of its transactions held row locks (try $try)"
    else
        kill -STOP "$pid"
        FAULT_DETAIL="SIGSTOP $name; it held no row locks in 300 tries (connections: ${ports:-none})"
    fi
}

# Appends the window of the fault just healed to the fault-windows file (see windows.sh).
fault_write_window() { # file class start end [healed]
    # shellcheck disable=SC2086  # word lists to JSON arrays
    write_window "$1" "$2" "$FAULT_DETAIL" "$3" "$4" "$(json_ints $FAULT_BROKERS)" \
        "$(jq -cn '$ARGS.positional' --args $FAULT_INSTANCES)" "$FAULT_PARTITIONS" "${5:-}"
}
