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

status=0
for service in Order:8080 Inventory:8081 Payment:8082 Notification:8083; do
    tag=${service%%:*}
    port=${service##*:}
    for bearer in "$OPERATOR" "$CUSTOMER"; do
        # The live stream never ends: its first answer is checked by the tests, not here.
        python3 -m schemathesis.cli run Shared/SagaAPI/openapi.yaml \
            --url "http://127.0.0.1:$port" \
            --header "Authorization: Bearer $bearer" \
            --include-tag "$tag" --include-tag Probes \
            --exclude-path /notifications/stream \
            --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
            --max-examples 25 --seed 1 || status=1
    done
done
exit "$status"
