# shellcheck shell=bash
# Network faults for one service instance, sourced by deploy/chaos.sh: iptables OUTPUT rules
# matched by the instance's Unix user (local-stack.sh --users), all in one chain per run folder,
# so that heal is a flush and nothing outlives the run (`chaos.sh --heal` removes what a killed
# run left). No netem on this kernel: delay is the dev cluster's rtt, loss is `-m statistic`.

# The run's chain: SAGA- and a hash of the run folder (iptables allows 28 characters).
net_chain_of() { # run_dir
    printf 'SAGA-%s' "$(printf '%s' "$1" | md5sum | cut -c1-12)"
}

net_setup() { # chain
    iptables -w -N "$1" 2>/dev/null || iptables -w -S "$1" >/dev/null || return
    iptables -w -C OUTPUT -j "$1" 2>/dev/null || iptables -w -I OUTPUT -j "$1"
}

# Adds the rules that cut (or thin) one user's TCP traffic to loopback ports.
net_block() { # chain user action(drop|reject|loss) probability ports...
    local chain=$1 user=$2 action=$3 probability=$4 port
    shift 4
    local uid
    uid=$(id -u "$user") || return
    local match=(-p tcp -d 127.0.0.1 -m owner --uid-owner "$uid")
    for port in "$@"; do
        case $action in
            drop) iptables -w -A "$chain" "${match[@]}" --dport "$port" -j DROP || return ;;
            reject) iptables -w -A "$chain" "${match[@]}" --dport "$port" -j REJECT --reject-with tcp-reset || return ;;
            loss) iptables -w -A "$chain" "${match[@]}" --dport "$port" -m statistic --mode random \
                --probability "$probability" -j DROP || return ;;
        esac
    done
}

net_heal() { # chain
    iptables -w -F "$1" 2>/dev/null || true
}

net_rule_count() { # chain
    iptables -w -S "$1" 2>/dev/null | grep -c '^-A' || true
}

# Flushes the chain, unhooks it from OUTPUT and deletes it; quiet when it does not exist.
net_teardown() { # chain
    iptables -w -F "$1" 2>/dev/null || return 0
    while iptables -w -D OUTPUT -j "$1" 2>/dev/null; do :; done
    iptables -w -X "$1" 2>/dev/null || true
}

# Every chain any run left behind.
net_teardown_all() {
    local chain
    for chain in $(iptables -w -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^SAGA-/ { print $2 }'); do
        net_teardown "$chain"
        echo "$chain"
    done
}

# The dev cluster's broker ports, from a bootstrap list like 127.0.0.1:40001,127.0.0.1:40002.
broker_ports() { # bootstrap_file
    tr ',' '\n' <"$1" | sed -n 's/.*:\([0-9][0-9]*\)$/\1/p'
}
