# shellcheck shell=bash
# CPU (in clock ticks, getconf CLK_TCK) and peak memory of processes from /proc; sourced by deploy/cost-bench.sh
# and deploy/bench/pg-floor.sh.

# utime+stime of a process (0 when it is gone); with "children", also what its reaped children
# used (PostgreSQL's postmaster: backends that ended inside the window).
cpu_ticks() { # pid [children]
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    # Fields after the command name, which is in parentheses and may hold spaces.
    read -r -a fields <<<"${stat##*) }"
    if [[ ${2:-} == children ]]; then
        echo $((fields[11] + fields[12] + fields[13] + fields[14]))
    else
        echo $((fields[11] + fields[12]))
    fi
}

# The PostgreSQL server's CPU: every process of the postmaster's tree, plus what ended.
postgres_ticks() {
    local total=0 pid postmaster
    postmaster=$(pgrep -o -x postgres || true)
    [[ -n $postmaster ]] || { echo 0; return; }
    total=$(cpu_ticks "$postmaster" children)
    for pid in $(pgrep -P "$postmaster"); do total=$((total + $(cpu_ticks "$pid"))); done
    echo "$total"
}

# A process's peak resident set (VmHWM) in MB.
peak_rss_mb() { # pid
    awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# The whole machine's idle (with iowait) and stolen ticks, from the "cpu" line of /proc/stat: how
# much CPU the stack left unused, and how much the hypervisor gave to other guests meanwhile (a
# run with much stolen time measures a slower machine).
machine_ticks() {
    local fields
    read -r -a fields </proc/stat
    # cpu user nice system idle iowait irq softirq steal ...
    echo "machine-idle $((fields[4] + fields[5]))"
    echo "machine-steal $((fields[8]))"
}
