#!/usr/bin/env bash
# Regenerates Shared/EventSchema/Generated/*.pb.swift from Contracts/*.proto, and
# Contracts/descriptor_set.binpb (the compiled schema; the tests compare it with the
# released snapshots in Tests/EventSchemaTests/Golden to catch breaking changes).
#
#   Shared/EventSchema/Contracts/regenerate.sh          rewrite Generated/
#   Shared/EventSchema/Contracts/regenerate.sh --check  exit 1 if either is stale (CI)
#
# Uses the system protoc (Debian: protobuf-compiler) and a protoc-gen-swift built
# from the same swift-protobuf version the package links against, so generated
# code and runtime always match. The plugin is built outside the repository (first
# build takes a few minutes); set PROTOC_GEN_SWIFT to use an existing plugin binary.
#
# Environment:
#   SWIFT_PROTOBUF_VERSION  tag to build the plugin from (default 1.39.0, keep in
#                           step with Package.resolved)
#   PROTOC_GEN_SWIFT_SCRATCH  scratch dir (default ${TMPDIR:-/tmp}/protoc-gen-swift-build)
#   PROTOC_GEN_SWIFT        use this plugin binary instead of building one
set -euo pipefail

mode="write"
case "${1:-}" in
    "") ;;
    --check) mode="check" ;;
    -h | --help)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

contracts_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
schema_dir="$(dirname "$contracts_dir")"
generated_dir="$schema_dir/Generated"
repo_root="$(cd "$schema_dir/../.." && pwd)"

version="${SWIFT_PROTOBUF_VERSION:-1.39.0}"
scratch="${PROTOC_GEN_SWIFT_SCRATCH:-${TMPDIR:-/tmp}/protoc-gen-swift-build}"
mirror="/opt/swift-packages/apple/swift-protobuf.git"
checkout="$repo_root/.build/checkouts/swift-protobuf"

log() { echo "regenerate.sh: $*" >&2; }

command -v protoc >/dev/null || {
    log "protoc not found (Debian: apt-get install protobuf-compiler)"
    exit 1
}

build_plugin() {
    local src="$scratch/swift-protobuf-$version"
    if [[ ! -f "$src/Package.swift" ]]; then
        mkdir -p "$scratch"
        rm -rf "$src"
        # Clone rather than build in place: the package's own checkout is shared
        # with other builds and must stay untouched.
        # file:// so that --depth applies to local clones too.
        local origin
        if git -C "$checkout" rev-parse -q --verify "refs/tags/$version" >/dev/null 2>&1; then
            origin="file://$checkout"
        elif [[ -d "$mirror" ]]; then
            origin="file://$mirror"
        else
            origin="https://github.com/apple/swift-protobuf.git"
        fi
        log "cloning swift-protobuf $version from $origin"
        git -c advice.detachedHead=false clone --quiet --depth 1 --branch "$version" "$origin" "$src"
    fi
    log "building protoc-gen-swift $version in $scratch (slow the first time)"
    swift build -c release --package-path "$src" --scratch-path "$scratch/build" \
        --product protoc-gen-swift >&2
    plugin="$(swift build -c release --package-path "$src" --scratch-path "$scratch/build" \
        --show-bin-path)/protoc-gen-swift"
}

if [[ -n "${PROTOC_GEN_SWIFT:-}" ]]; then
    plugin="$PROTOC_GEN_SWIFT"
else
    build_plugin
fi
[[ -x "$plugin" ]] || {
    log "plugin not executable: $plugin"
    exit 1
}

out="$(mktemp -d "${TMPDIR:-/tmp}/eventschema-gen.XXXXXX")"
trap 'rm -rf "$out"' EXIT

shopt -s nullglob
protos=("$contracts_dir"/*.proto)
((${#protos[@]} > 0)) || {
    log "no .proto files in $contracts_dir"
    exit 1
}

# Paths relative to Contracts/ so the generated headers name e.g. "orders.proto".
(cd "$contracts_dir" && protoc \
    --plugin=protoc-gen-swift="$plugin" \
    --proto_path=. \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=DropPath \
    --swift_out="$out" \
    --descriptor_set_out="$out/descriptor_set.binpb" \
    "${protos[@]##*/}")

if [[ "$mode" == check ]]; then
    if diff -r "$generated_dir" "$out" --exclude=descriptor_set.binpb >&2 \
        && cmp "$contracts_dir/descriptor_set.binpb" "$out/descriptor_set.binpb" >&2; then
        log "Generated/ is up to date"
    else
        log "Generated/ or descriptor_set.binpb is stale: run $0"
        exit 1
    fi
    exit 0
fi

mkdir -p "$generated_dir"
# Remove outputs of deleted .proto files; everything in Generated/ is ours.
rm -f "$generated_dir"/*.pb.swift
cp "$out"/*.pb.swift "$generated_dir"/
cp "$out/descriptor_set.binpb" "$contracts_dir/descriptor_set.binpb"
log "wrote $(find "$generated_dir" -name '*.pb.swift' | wc -l) files to $generated_dir"
