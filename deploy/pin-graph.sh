#!/usr/bin/env bash
# Resolves the package graph with every package at its pinned version: those Package.swift uses
# (`exact:` there) and the rest of the graph (deploy/transitive-pins.txt). Run from the package
# root; the image build runs it before building. Exit 1 when a package of the graph has no pin
# or cannot be held at its pin.
#
#   deploy/pin-graph.sh            # resolve, move every transitive package to its pin, check
#   deploy/pin-graph.sh --check    # only check Package.resolved against the pins
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PINS=deploy/transitive-pins.txt
CHECK_ONLY=0
[[ ${1:-} == --check ]] && CHECK_ONLY=1

# "identity version" per line, from Package.resolved (SwiftPM writes it pretty-printed).
resolved() {
    awk -F'"' '/"identity"/ { id = $4 } /^ +"version"/ && id != "" { print id, $4; id = "" }' Package.resolved | sort
}
# The same from Package.swift's `exact:` pins and the transitive pins file.
pinned() {
    {
        sed -n 's|.*\.package(url: *"\([^"]*\)", *exact: *"\([^"]*\)".*|\1 \2|p' Package.swift \
            | awk '{ n = split($1, p, "/"); id = tolower(p[n]); sub(/\.git$/, "", id); print id, $2 }'
        grep -v '^#' "$PINS" | grep -v '^$'
    } | sort
}

if ((!CHECK_ONLY)); then
    [[ -f Package.resolved ]] || swift package resolve
    while read -r id version; do
        current=$(resolved | awk -v id="$id" '$1 == id { print $2 }')
        if [[ -n $current && $current != "$version" ]]; then
            echo "pin-graph: $id resolved $current, pinned $version: resolving it to the pin" >&2
            swift package resolve "$id" --version "$version"
        fi
    done < <(grep -v '^#' "$PINS" | grep -v '^$')
fi

if ! diff <(pinned) <(resolved) >/dev/null; then
    echo "pin-graph: the resolved graph differs from the pins (< pinned, > resolved):" >&2
    diff <(pinned) <(resolved) >&2 || true
    exit 1
fi
echo "pin-graph: $(resolved | wc -l) packages, each at its pin"
