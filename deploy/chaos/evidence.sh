# shellcheck shell=bash
# What shows that a fault of deploy/chaos.sh was there, written into its fault window for the
# load generator to judge (Tools/LoadGenerator/Liveness/FaultWindow.swift): evidence seen
# here, errors (an injection or heal command that failed, evidence looked for and not found:
# either fails the run), whether the load generator must see the flow cut, and the restarts
# that needed retries. Sourced by chaos.sh before faults.sh; `event` is chaos.sh's.

evidence_reset() {
    FAULT_EVIDENCE=()
    FAULT_ERRORS=()
    FAULT_CUT=false
    RESTART_RETRIES=0
    RESTART_CRASHES=()
}
evidence_reset

felt() { # what was seen
    FAULT_EVIDENCE+=("$*")
}

fault_error() { # what went wrong
    FAULT_ERRORS+=("$*")
    event "ERROR: $*"
}

# Runs one command of an injection or a heal. Its failure is recorded as an error of the fault
# (with what it printed), which fails the run, rather than ending the script: the heal, the
# window and the cell's clean-up still happen. What the class checks next fails with it.
must() { # command...
    local out status=0
    out=$("$@" 2>&1) || status=$?
    if ((status != 0)); then
        fault_error "$* failed (exit $status): ${out//$'\n'/ }"
    elif [[ -n $out ]]; then
        printf '%s\n' "$out"
    fi
    return 0
}

# The scheduler state of a process (R, S, T…; empty when it is gone).
process_state() { # pid
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    echo "${stat%% *}"
}

# A SIGSTOP takes effect asynchronously: waits up to 2 s for the stopped state.
expect_stopped() { # pid what
    local i state=""
    for ((i = 0; i < 20; i++)); do
        state=$(process_state "$1")
        [[ $state == T || $state == t ]] && { felt "$2 (pid $1) stopped (state $state)"; return 0; }
        sleep 0.1
    done
    fault_error "$2 (pid $1) is not stopped after SIGSTOP (state '${state:-gone}')"
}

# Packets the rules of a chain matched, read before the heal flushes them.
expect_packets_matched() { # chain what
    local packets
    packets=$(iptables -w -L "$1" -v -n -x 2>/dev/null | awk 'NR > 2 { sum += $1 } END { print sum + 0 }')
    if ((packets > 0)); then
        felt "$packets packets matched the rules ($2)"
    else
        fault_error "no packet matched the rules of $1 ($2): the target sent nothing they cut"
    fi
}

# The fault window's extra fields as one JSON object.
evidence_json() {
    jq -cn --argjson cut "$FAULT_CUT" --argjson retries "$RESTART_RETRIES" \
        --argjson evidence "$(jq -cn '$ARGS.positional' --args "${FAULT_EVIDENCE[@]}")" \
        --argjson errors "$(jq -cn '$ARGS.positional' --args "${FAULT_ERRORS[@]}")" \
        --argjson crashes "$(jq -cn '$ARGS.positional' --args "${RESTART_CRASHES[@]}")" \
        '{"evidence": $evidence, "errors": $errors, "cut": $cut, "restartRetries": $retries, "restartCrashes": $crashes}'
}
