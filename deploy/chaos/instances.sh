# shellcheck shell=bash
# The service instances of a local stack (local-stack.sh's run folder): pids, URLs, restarts.
# Sourced by deploy/chaos.sh; RUN_DIR and INSTANCE_URLS (from stack.env) are set by then.

SERVICE_NAMES=(order inventory payment notification)

instance_url() { # name
    local entry
    for entry in $INSTANCE_URLS; do
        [[ ${entry%%=*} == "$1" ]] && { echo "${entry#*=}"; return 0; }
    done
    return 1
}

# Every instance of every service: order-0 inventory-0 ... order-1 ...
all_instances() {
    local k service
    for ((k = 0; k < INSTANCES; k++)); do
        for service in "${SERVICE_NAMES[@]}"; do echo "$service-$k"; done
    done
}

instances_of() { # service
    local k
    for ((k = 0; k < INSTANCES; k++)); do echo "$1-$k"; done
}

instance_pid() { # name
    cat "$RUN_DIR/pids/$1.pid"
}

wait_gone() { # pid seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# Ready within the bound: 0; the process died: 2 (at once, not after the bound); else 1.
wait_instance_ready() { # name seconds
    local url i
    url=$(instance_url "$1")
    for ((i = 0; i < $2 * 10; i++)); do
        curl -fsS -o /dev/null --max-time 1 "$url/readyz" 2>/dev/null && return 0
        kill -0 "$(instance_pid "$1")" 2>/dev/null || return 2
        sleep 0.1
    done
    return 1
}

# Starts an instance again from its saved command line (a quoted word list, see local-stack.sh),
# optionally through a wrapper command (faketime). `exec` makes $! the started program; faketime
# forks the service as its child, so the pid file gets that child.
start_instance() { # name [wrapper words...]
    local name=$1 pid child="" i
    shift
    if (($#)); then
        eval "exec $(printf '%q ' "$@") $(<"$RUN_DIR/cmd/$name")" >>"$RUN_DIR/logs/$name.log" 2>&1 &
        pid=$!
        for ((i = 0; i < 100; i++)); do
            child=$(pgrep -P "$pid" | head -n 1) && [[ -n $child ]] && break
            sleep 0.05
        done
        [[ -n $child ]] || { event "$name: no service process under the wrapper $1"; child=$pid; }
        pid=$child
    else
        eval "exec $(<"$RUN_DIR/cmd/$name")" >>"$RUN_DIR/logs/$name.log" 2>&1 &
        pid=$!
    fi
    echo "$pid" >"$RUN_DIR/pids/$name.pid"
}

# SIGTERM (a clean stop: the batch in hand commits, the relay flushes) or SIGKILL, and the wait.
stop_instance() { # name signal
    local pid
    pid=$(instance_pid "$1")
    kill -CONT "$pid" 2>/dev/null || true
    kill "-$2" "$pid" 2>/dev/null || true
    wait_gone "$pid" 30 || { event "$1 did not stop in 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
}

# Stops an instance and starts it again until it is ready (five starts at most). A start after
# which the process exited by itself is a crash of the service: counted (RESTART_CRASHES, with
# its last log line) with the retries it caused (RESTART_RETRIES), and the run fails on it.
restart_instance() { # name [wrapper words...]
    local name=$1 attempt ready
    shift
    stop_instance "$name" TERM
    for attempt in 1 2 3 4 5; do
        ((attempt == 1)) || RESTART_RETRIES=$((RESTART_RETRIES + 1))
        start_instance "$name" "$@"
        ready=0
        wait_instance_ready "$name" 60 || ready=$?
        ((ready == 0)) && return 0
        ((ready == 2)) || break
        RESTART_CRASHES+=("$name exited during its start (attempt $attempt): $(tail -n 1 "$RUN_DIR/logs/$name.log")")
        event "${RESTART_CRASHES[-1]}"
    done
    fault_error "$name not ready 60 s after its restart"
}

metric_value() { # name metric-regex: the first sample's value, or nothing
    curl -fsS --max-time 2 -H "Authorization: Bearer $MONITOR_TOKEN" "$(instance_url "$1")/metrics" 2>/dev/null | awk -v m="$2" '$1 ~ "^" m "($|\\{)" { print $2; exit }'
}

# The sum of a metric over its label sets (0 when absent).
metric_sum() { # name metric
    curl -fsS --max-time 2 -H "Authorization: Bearer $MONITOR_TOKEN" "$(instance_url "$1")/metrics" 2>/dev/null \
        | awk -v m="$2" '$1 ~ "^" m "($|\\{)" { sum += $2 } END { print sum + 0 }'
}

# The instance of a service that holds its relay lease now (it publishes the outbox); the
# first instance when none says so.
relay_holder() { # service
    local name value
    for name in $(instances_of "$1"); do
        value=$(metric_value "$name" messaging_relay_leader)
        [[ $value == 1 || $value == 1.0 ]] && { echo "$name"; return 0; }
    done
    echo "$1-0"
}

# Instances running under faketime (chaos.sh --heal restarts them on the real clock).
instance_is_faked() { # name
    tr '\0' '\n' <"/proc/$(instance_pid "$1")/environ" 2>/dev/null | grep -q '^LD_PRELOAD=.*faketime'
}
