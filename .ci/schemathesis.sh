#!/usr/bin/env bash
# The edge's contract, exercised: schemathesis (PyPI) generates requests from
# Shared/SagaAPI/openapi.yaml against each service of a local stack, with an operator's and a
# customer's token, and fails on a 5xx or on an answer the document does not allow (status,
# content type, body). OpenAPIContractTests checks the document against the routes in process;
# this checks the answers on the wire.
#
#   .ci/schemathesis.sh [BIN_DIR]     # default .build/debug (swift build first)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${1:-.build/debug}

python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install -q schemathesis==4.32.5

RUN_DIR=$(mktemp -d /tmp/contract-XXXXXX)
chmod o+x "$RUN_DIR"
deploy/local-stack.sh --bin-dir "$BIN_DIR" --skip-load --run-dir "$RUN_DIR"
trap 'deploy/local-stack.sh --stop "$RUN_DIR" || true; rm -rf "$RUN_DIR"' EXIT

token() { "$BIN_DIR/saga-admin" token --keys "$RUN_DIR/keys" --role "$1" --subject "$2"; }
OPERATOR=$(token operator contract)
CUSTOMER=$(token customer C-00001)

# Each run's whole report goes to a file and is printed only when the run fails: its closing
# line has pytest's shape ("=== 1 warning in 2.2s ===") and would read to CI as a test run that
# executed nothing. A passing run prints one line of its own.
LOG=$(mktemp /tmp/schemathesis-XXXXXX.log)
status=0
for service in Order:8080 Inventory:8081 Payment:8082 Notification:8083; do
    tag=${service%%:*}
    port=${service##*:}
    for role in operator customer; do
        if [[ $role == operator ]]; then bearer=$OPERATOR; else bearer=$CUSTOMER; fi
        # The live stream never ends: its first answer is checked by the tests, not here.
        if python3 -m schemathesis.cli run Shared/SagaAPI/openapi.yaml \
            --url "http://127.0.0.1:$port" \
            --header "Authorization: Bearer $bearer" \
            --include-tag "$tag" --include-tag Probes \
            --exclude-path /notifications/stream \
            --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
            --max-examples 25 --seed 1 >"$LOG" 2>&1; then
            cases=$(grep -oE '[0-9]+ generated, [0-9]+ passed' "$LOG" | tail -n 1)
            echo "schemathesis $tag as $role: ${cases:-no case count in its report} (every check held)"
        else
            status=1
            echo "schemathesis $tag as $role: FAILED; its report:"
            cat "$LOG"
        fi
    done
done
rm -f "$LOG"
exit "$status"
