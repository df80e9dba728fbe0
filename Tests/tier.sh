#!/usr/bin/env bash
# Runs a test tier of the built package, each group of tests under its own time limit, and
# prints one summary that counts XCTest and Swift Testing cases.
#
#   Tests/tier.sh fast            # unit, property, and integration against the dev cluster and
#                                 # both databases: what runs on every push (and catches the
#                                 # seeded bugs of Tests/Mutations)
#   Tests/tier.sh slow            # multi-process end to end, chaos, the fault matrices
#   Tests/tier.sh all             # both, one summary
#   Tests/tier.sh pending         # groups taken out of CI until their issue is fixed (each
#                                 # row says why; `all` names them in its summary)
#   Tests/tier.sh fast --filter REGEX    # only the tier's tests matching REGEX (Tests/Mutations/run.sh)
#
# Build first (swift build --build-tests). POSTGRES_URL as for swift test. Every test of the
# package belongs to exactly one group: a test no group claims, or two groups claim, is an
# error, so a new test cannot fall out of CI unseen. A group that outlives its limit is ended
# and fails, naming the test it was in. The last line is "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# name|tier|limit in seconds|filter (a regex over Module.Class/test, as swift test --filter).
GROUPS_TABLE=(
    "domain|fast|600|^(EventSchemaTests|SagaDomainTests|LoadGeneratorTests|DeployTests|CredentialsTests)\."
    "persistence|fast|900|^PersistenceTests\."
    "messaging|fast|1500|^MessagingTests\."
    "kafka|fast|900|^KafkaTests\."
    "service-kit|fast|300|^ServiceKitTests\."
    "console|fast|300|^ConsoleTests\.(ConsoleRouteTests|ConsoleClusterTests)[./]"
    "services-in-process|fast|600|^ServiceTests\.(ConcurrentInstancesTests|OrderPlacementInProcessTests|EdgeSecurityTests|OpenAPIContractTests|OperatorRoutesTests|NotificationDeliveryWakeTests|NotificationInPlaceDeliveryTests|ToolTLSSettingsTests|InventoryStockMovementTests|BatchPreloadTests)[./]"
    "console-browser|slow|300|^ConsoleTests\.ConsoleBrowserTests[./]"
    "console-local-stack|slow|600|^ConsoleTests\.ConsoleLocalStackTests[./]"
    "saga-end-to-end|slow|1200|^ServiceTests\.SagaEndToEndTests[./]"
    "hostile-input|slow|900|^ServiceTests\.HostileInputEndToEndTests[./]"
    "forged-events|slow|600|^ServiceTests\.ForgedEventsEndToEndTests[./]"
    "edge-limits|slow|600|^ServiceTests\.EdgeLimitsEndToEndTests[./]"
    "tracing|slow|600|^ServiceTests\.TracingEndToEndTests[./]"
    "dead-letter-replay|slow|600|^ServiceTests\.DeadLetterReplayTests[./]"
    "webhook|slow|300|^ServiceTests\.WebhookDeliveryTests[./]"
    "bounded-storage|slow|600|^ServiceTests\.BoundedStorageTests[./]"
    "local-stack|slow|420|^ServiceTests\.DeployScriptTests/testLocalStackScriptRunsLoadAndThePassingAudit$"
    "chaos-rotation|slow|720|^ServiceTests\.DeployScriptTests/testChaosOnTheLocalStackKeepsEveryInvariant$"
    "scale-out|slow|540|^ServiceTests\.DeployScriptTests/testScaleOutOnPostgresSurvivesAnInstanceKill$"
    "failed-injection|slow|600|^ServiceTests\.DeployScriptTests/testACellWhoseInjectionFailsIsAnError$"
    "killed-chaos-heal|slow|420|^ServiceTests\.DeployScriptTests/testAKilledChaosRunIsHealed$"
    "matrix-sqlite|slow|1800|^ServiceTests\.DeployScriptTests/testShortFaultMatrixOnSQLite$"
    "matrix-postgres|slow|1500|^ServiceTests\.DeployScriptTests/testShortFaultMatrixOnPostgres$"
)

die() { echo "tier: $*" >&2; exit 2; }
[[ $# -ge 1 ]] || die "say fast, slow or all (see the top of $0)"
TIER=$1
shift
case $TIER in fast | slow | all | pending) ;; *) die "unknown tier '$TIER': fast, slow, all or pending" ;; esac
ONLY=""
while (($#)); do
    case $1 in
        --filter) ONLY=$2; shift 2 ;;
        *) die "unknown option '$1'" ;;
    esac
done

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

# Every test of the package, one per line (Module.Class/test or Module.Suite/test()).
swift test list --skip-build >"$LOGS/list" 2>"$LOGS/list.err" || { cat "$LOGS/list.err" >&2; die "swift test list failed: build first"; }
[[ -s $LOGS/list ]] || die "swift test list printed no test"
claimed() { # test: the groups whose filter matches it
    local row
    for row in "${GROUPS_TABLE[@]}"; do
        IFS='|' read -r name _ _ filter <<<"$row"
        [[ $1 =~ $filter ]] && echo "$name"
    done
    return 0
}
unclaimed=0
while IFS= read -r test; do
    owners=$(claimed "$test" | paste -sd ' ' -)
    if [[ -z $owners ]]; then echo "tier: $test is in no group of $0" >&2; unclaimed=1; fi
    if [[ $owners == *" "* ]]; then echo "tier: $test is in more than one group ($owners)" >&2; unclaimed=1; fi
done <"$LOGS/list"
((unclaimed == 0)) || die "every test must belong to exactly one group (GROUPS_TABLE)"

xc_passed=0 xc_failed=0 xc_skipped=0 st_passed=0 st_failed=0 st_skipped=0 groups_failed=()
count() { # pattern file: matching lines, without Swift Testing's closing "Test run with N tests" line
    grep -E "$1" "$2" | grep -cvE " Test run with [0-9]+ test" || true
}

run_group() { # name limit filter
    local name=$1 limit=$2 filter=$3 log=$LOGS/$1.log status=0 start
    if [[ -n $ONLY ]]; then
        # swift test ORs its filters: the tests of the group that match ONLY, by exact name.
        local selected
        # shellcheck disable=SC2016  # a sed expression: $ is a character to escape
        selected=$(grep -E "$filter" "$LOGS/list" | grep -E "$ONLY" | sed 's/[][\.*^$(){}+?|]/\\&/g' | paste -sd '|' -) || true
        [[ -n $selected ]] || return 0
        # Swift Testing's ids may go on after the name (a source location): a name ends at / or the end.
        filter="^($selected)(/|$)"
    fi
    local args=(--skip-build --filter "$filter")
    start=$(date +%s)
    echo "=== $name (limit ${limit} s): swift test ${args[*]}"
    timeout --kill-after=30 "$limit" swift test "${args[@]}" >"$log" 2>&1 || status=$?
    local took=$(($(date +%s) - start))
    # XCTest: "Test Case 'C.test' passed (…)"; Swift Testing: "✔ Test name() passed after …".
    local xp xf xs sp sf ss
    xp=$(count "^Test Case '.*' passed \(" "$log")
    xf=$(count "^Test Case '.*' failed \(" "$log")
    xs=$(count "^Test Case '.*' skipped \(" "$log")
    sp=$(count "^✔ Test .* passed after" "$log")
    sf=$(count "^✘ Test .* failed after" "$log")
    ss=$(count "^➜ Test .* skipped" "$log")
    xc_passed=$((xc_passed + xp)) xc_failed=$((xc_failed + xf)) xc_skipped=$((xc_skipped + xs))
    st_passed=$((st_passed + sp)) st_failed=$((st_failed + sf)) st_skipped=$((st_skipped + ss))
    if ((status == 0 && xp + xf + xs + sp + sf + ss == 0)); then
        echo "NO TEST RAN: $name's filter matched no test"
        status=1
    fi
    if ((status == 124 || status == 137)); then
        local last
        last=$(grep -E "^Test Case '.*' started|^◇ Test " "$log" | tail -n 1)
        echo "TIMEOUT: $name exceeded its ${limit} s limit; the test running was: ${last:-unknown}"
        xc_failed=$((xc_failed + 1))
    fi
    if ((status != 0)); then
        groups_failed+=("$name")
        echo "--- $name: what failed"
        grep -E "^Test Case '.*' failed|: error: |^✘ Test .*(recorded an issue|failed after)|error: (fatalError|Exited)|Fatal error" "$log" | head -n 60 || true
        echo "--- $name: last lines of the log"
        tail -n 15 "$log"
    fi
    # The test runners' own summaries, as they printed them: XCTest's outermost suite and Swift Testing's run.
    # A runner that ran nothing in this group (most groups are one runner's) is left out: CI reads a
    # closing "0 tests" line as a run that tested nothing.
    grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$log" | tail -n 1 | grep -vE "Executed 0 tests" \
        | sed 's/^[[:space:]]*/    XCTest: /' || true
    grep -E "Test run with [0-9]+ tests?" "$log" | tail -n 1 | grep -vE "Test run with 0 tests" \
        | sed 's/^/    Swift Testing: /' || true
    echo "=== $name: exit $status in ${took} s; XCTest $xp passed, $xf failed, $xs skipped; Swift Testing $sp passed, $sf failed, $ss skipped"
}

START=$(date +%s)
for row in "${GROUPS_TABLE[@]}"; do
    IFS='|' read -r name tier limit filter <<<"$row"
    [[ ($TIER == all && $tier != pending) || $TIER == "$tier" ]] || continue
    run_group "$name" "$limit" "$filter"
done
pending=()
for row in "${GROUPS_TABLE[@]}"; do
    IFS='|' read -r name tier _ _ <<<"$row"
    if [[ $tier == pending && $TIER != pending ]]; then pending+=("$name"); fi
done

echo
echo "tier $TIER in $(($(date +%s) - START)) s"
echo "XCTest: $xc_passed passed, $xc_failed failed, $xc_skipped skipped"
echo "Swift Testing: $st_passed passed, $st_failed failed, $st_skipped skipped"
((${#groups_failed[@]} == 0)) || echo "groups that failed: ${groups_failed[*]}"
((${#pending[@]} == 0)) || echo "groups not run, pending a fix (Tests/tier.sh pending; see their rows): ${pending[*]}"
echo "Executed $((xc_passed + xc_failed + st_passed + st_failed)) tests, with $((xc_failed + st_failed)) failures (XCTest and Swift Testing, every group of tier $TIER)"
echo "tests: $((xc_passed + st_passed)) passed, $((xc_failed + st_failed)) failed"
((${#groups_failed[@]} == 0 && xc_failed + st_failed == 0))
