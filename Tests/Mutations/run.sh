#!/usr/bin/env bash
# Seeded bugs the fast tier must catch. Each NN-name.patch here seeds one bug a real engineer
# could write (its first line says which; its "Tests:" line is the part of the fast tier that
# should catch it, a regex over test names). For each: apply, build, run those tests through
# Tests/tier.sh fast, record which failed and how long it took, revert.
#
#   Tests/Mutations/run.sh                       # every patch
#   Tests/Mutations/run.sh --full                # each against the whole fast tier
#   Tests/Mutations/run.sh --table FILE 03-*.patch
#   Tests/Mutations/run.sh --check               # only: does every patch still apply (CI)
#
# Exit 0 when every bug was caught (some test failed), 1 when one was not. Exit 2, before
# anything is applied, when a patch no longer applies to the code (it names the patch: update
# it to seed the same bug in the code as it is now) or a file it touches has uncommitted
# changes; and when a mutant does not compile. The tree is reverted and rebuilt at the end,
# also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "mutations: $*" >&2; exit 2; }
FULL=0
CHECK=0
TABLE=""
patches=()
while (($#)); do
    case $1 in
        --full) FULL=1; shift ;;
        --check) CHECK=1; shift ;;
        --table) TABLE=$2; shift 2 ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *.patch) patches+=("$1"); shift ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
((${#patches[@]})) || mapfile -t patches < <(ls Tests/Mutations/*.patch)
((${#patches[@]})) || die "no patch in Tests/Mutations"

# Every patch is checked before the first is applied: a stale one fails the run at once.
for patch in "${patches[@]}"; do
    [[ -f $patch ]] || die "no patch $patch"
    grep -q '^Tests: ' "$patch" || die "$patch has no 'Tests: REGEX' line"
    if ! why=$(git apply --check "$patch" 2>&1); then
        die "$patch NO LONGER APPLIES to the current code ($(head -n 1 "$patch")): ${why//$'\n'/ }. Rewrite it to seed the same bug in the code as it is now."
    fi
    ((CHECK)) && continue
    mapfile -t files < <(git apply --numstat "$patch" | cut -f3)
    git diff --quiet HEAD -- "${files[@]}" || die "${files[*]} has uncommitted changes: commit or stash them first ($patch touches it)"
done
if ((CHECK)); then
    echo "mutations: all ${#patches[@]} seeded bugs apply to the current code"
    exit 0
fi

LOGS=$(mktemp -d)
APPLIED=""
revert() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $APPLIED ]]; then
        git apply -R "$APPLIED" || echo "mutations: could not revert $APPLIED: run git checkout on its files" >&2
        APPLIED=""
    fi
    echo "mutations: rebuilding the unmutated code" >&2
    swift build --build-tests >"$LOGS/rebuild.log" 2>&1 || { tail -n 20 "$LOGS/rebuild.log" >&2; status=2; }
    rm -rf "$LOGS"
    exit "$status"
}
trap revert EXIT
trap 'exit 130' INT TERM

rows=("| seeded bug | caught | tests that failed | build | tests |" "|---|---|---|---|---|")
missed=()
for patch in "${patches[@]}"; do
    name=$(basename "$patch" .patch)
    bug=$(head -n 1 "$patch" | sed 's/^Seeded bug: //')
    tests=$(sed -n 's/^Tests: //p' "$patch" | head -n 1)
    ((FULL)) && tests="."
    echo "=== $name: $bug" >&2
    git apply "$patch"
    APPLIED=$patch
    start=$(date +%s)
    if ! swift build --build-tests >"$LOGS/$name.build" 2>&1; then
        grep -E "error:" "$LOGS/$name.build" | head -n 10 >&2 || tail -n 20 "$LOGS/$name.build" >&2
        die "$patch: the mutant does not compile; fix the patch"
    fi
    built=$(($(date +%s) - start))
    start=$(date +%s)
    status=0
    Tests/tier.sh fast --filter "$tests" >"$LOGS/$name.tests" 2>&1 || status=$?
    took=$(($(date +%s) - start))
    git apply -R "$patch"
    APPLIED=""
    ran=$(sed -n 's/^tests: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$LOGS/$name.tests")
    read -r passed failed <<<"${ran:-0 0}"
    ((passed + failed > 0)) || { tail -n 20 "$LOGS/$name.tests" >&2; die "$patch: 'Tests: $tests' ran no test of the fast tier"; }
    # XCTest: Test Case 'Class.test' failed; Swift Testing: ✘ Test name() failed after …
    failing=$( { sed -n "s/^Test Case '\(.*\)' failed (.*/\1/p" "$LOGS/$name.tests"
                 sed -n 's/^✘ Test \(.*\) failed after.*/\1/p' "$LOGS/$name.tests" | grep -vE '^run with [0-9]+ test'
                 sed -n 's/^TIMEOUT: \(.*\) exceeded.*/timeout in \1/p' "$LOGS/$name.tests"; } | sort -u | paste -sd ';' - | sed 's/;/; /g')
    if ((status != 0)) && [[ -n $failing ]]; then
        caught="yes ($failed of $((passed + failed)))"
    else
        caught="NO"
        missed+=("$name")
        failing="none"
    fi
    echo "=== $name: caught: $caught; failed: $failing; build ${built} s, tests ${took} s" >&2
    rows+=("| $bug (\`$name.patch\`) | $caught | $failing | ${built} s | ${took} s |")
done

printf '%s\n' "${rows[@]}"
[[ -z $TABLE ]] || printf '%s\n' "${rows[@]}" >"$TABLE"
if ((${#missed[@]})); then
    echo "mutations: NOT CAUGHT: ${missed[*]}" >&2
    exit 1
fi
echo "mutations: all ${#patches[@]} seeded bugs caught" >&2
