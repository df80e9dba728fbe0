# shellcheck shell=bash
# The fault windows file that `loadgen run --fault-windows` reads after the drain: one JSON
# object per healed fault, wall-clock unix ms (see Tools/LoadGenerator/Liveness/FaultWindow.swift).

now_ms() { date +%s%3N; }

# A JSON array of integers from words: "1 2" -> [1,2]; nothing -> [].
json_ints() {
    local IFS=,
    printf '[%s]' "$*"
}

# Appends one window. partitions: a JSON array, or null for every partition. healed: when the
# heal finished, if later than end (a clock fault's restarts back onto the real clock), or "".
# extra: a JSON object merged in (the evidence fields, see evidence.sh).
write_window() { # file fault detail start end brokers_json instances_json partitions_json healed extra_json
    local extra=${10:-}
    [[ -n $extra ]] || extra='{}'
    jq -cn --arg fault "$2" --arg detail "$3" --argjson from "$4" --argjson to "$5" \
        --argjson brokers "$6" --argjson instances "$7" --argjson partitions "$8" --argjson healed "${9:-null}" \
        --argjson extra "$extra" \
        '{"fault": $fault, "detail": $detail, "start": $from, "end": $to, "brokers": $brokers, "instances": $instances, "partitions": $partitions}
         + (if $healed == null then {} else {"healed": $healed} end) + $extra' >>"$1"
}
