#!/usr/bin/env bash
# Run the loader fuzz target for SECS seconds (default 60), seeded with the
# test schedulers. Needs the nightly toolchain and cargo-fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${1:-60}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/target-bpf-fuzz}"
mkdir -p "$here/corpus/load"
if bash "$here/../tests/bpf/build.sh" "$here/corpus/objs" >/dev/null 2>&1; then
	cp "$here"/corpus/objs/*.bpf.o "$here/corpus/load/"
fi
cd "$here"
cargo +nightly fuzz run load corpus/load -- -max_total_time="$secs" -max_len=65536
