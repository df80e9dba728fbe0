#!/usr/bin/env bash
# Times every page of a running saga-console with an operator's bearer token: each URL N times
# (after one untimed warm-up), min / median / max of curl's time_total, as a Markdown table.
#
#   deploy/bench/console_pages.sh --run-dir run/<run> --console http://127.0.0.1:8090 [--times 10]
#
# The order and the dead letter it opens are the newest the console lists. Needs saga-admin
# (from --bin-dir or the run's stack.env) to mint the token.
set -euo pipefail

RUN_DIR=""
CONSOLE=http://127.0.0.1:8090
TIMES=10
BIN_DIR=""
while (($#)); do
    case $1 in
        --run-dir) RUN_DIR=$2; shift 2 ;;
        --console) CONSOLE=$2; shift 2 ;;
        --times) TIMES=$2; shift 2 ;;
        --bin-dir) BIN_DIR=$2; shift 2 ;;
        -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "console_pages: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[[ -n $RUN_DIR ]] || { echo "console_pages: give --run-dir" >&2; exit 2; }
if [[ -z $BIN_DIR ]]; then BIN_DIR=$(sed -n 's/^BIN_DIR=//p' "$RUN_DIR/stack.env"); fi
TOKEN=$("$BIN_DIR/saga-admin" token --keys "$RUN_DIR/keys" --role operator --subject bench)
AUTH=(-H "Authorization: Bearer $TOKEN")

# The newest order and dead letter, as the listings give them.
ORDER=$(curl -fsS "${AUTH[@]}" "$CONSOLE/orders?state=CONFIRMED" | grep -o 'href="/orders/[^"?]*"' | head -n 1 | sed 's#href="/orders/##; s#"##')
LETTER=$(curl -fsS "${AUTH[@]}" "$CONSOLE/deadletters" | grep -o 'href="/deadletters/[0-9a-f-]*"' | head -n 1 | sed 's#href="/deadletters/##; s#"##')
CUSTOMER=$(curl -fsS "${AUTH[@]}" "$CONSOLE/orders" | grep -o 'href="/orders?customer=[^"]*"' | head -n 1 | sed 's#href="/orders?customer=##; s#"##')
[[ -n $ORDER && -n $LETTER && -n $CUSTOMER ]] || { echo "console_pages: no order, dead letter or customer listed" >&2; exit 1; }

PAGES=(
    "/orders"
    "/orders?page=2"
    "/orders?page=1000"
    "/orders?state=CANCELLED"
    "/orders?state=PENDING"
    "/orders?customer=$CUSTOMER"
    "/orders?orderId=$ORDER"
    "/orders/$ORDER"
    "/orders/$ORDER/sequence.svg"
    "/deadletters"
    "/deadletters?page=2"
    "/deadletters?page=60"
    "/deadletters?service=inventory&kind=unauthenticated"
    "/deadletters?origin=orders.v1"
    "/deadletters/$LETTER"
    "/services"
    "/actions"
    "/alerts"
)

echo "| page | status | bytes | min ms | median ms | max ms |"
echo "|---|---|---|---|---|---|"
for page in "${PAGES[@]}"; do
    curl -sS -o /dev/null "${AUTH[@]}" "$CONSOLE$page" || true
    times=()
    status="" size=""
    for ((i = 0; i < TIMES; i++)); do
        read -r status size total < <(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "${AUTH[@]}" "$CONSOLE$page")
        times+=("$total")
    done
    sorted=$(printf '%s\n' "${times[@]}" | sort -g)
    min=$(head -n 1 <<<"$sorted")
    max=$(tail -n 1 <<<"$sorted")
    median=$(sed -n "$(((TIMES + 1) / 2))p" <<<"$sorted")
    ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
    shown=${page//$ORDER/<order>}
    shown=${shown//$LETTER/<letter>}
    shown=${shown//$CUSTOMER/<customer>}
    echo "| \`$shown\` | $status | $size | $(ms "$min") | $(ms "$median") | $(ms "$max") |"
done
