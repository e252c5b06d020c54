#!/usr/bin/env bash
# Compile scx-bpf's test schedulers with clang-19 into OUT_DIR (default:
# ${CARGO_TARGET_DIR:-target}/scx-bpf-objs). Each *.bpf.c is built against
# include/ (our kernel layout); scx_sim_vtime is additionally built against
# include/alt/ (a shuffled layout) as scx_sim_vtime.alt.bpf.o for the CO-RE
# test, and scx_sim_features is also built with -mcpu=v4 as
# scx_sim_features.v4.bpf.o. Exits 2 when clang-19 is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-${CARGO_TARGET_DIR:-$here/../../../../target}/scx-bpf-objs}"
clang="${SCX_BPF_CLANG:-clang-19}"
if ! command -v "$clang" >/dev/null 2>&1; then
	echo "build.sh: $clang not found (apt-get install -y clang-19)" >&2
	exit 2
fi
mkdir -p "$out"
# Compile to a private temporary name, then rename: concurrent runs (e.g.
# nextest processes) never see a partially written object.
cc() {
	local dst="$1"
	shift
	"$clang" "$@" -o "$dst.tmp.$$"
	mv -f "$dst.tmp.$$" "$dst"
}
flags=(-target bpf -O2 -g -mcpu=v3 -Wall -Wno-unused-function -Werror=implicit-function-declaration)
for src in "$here"/*.bpf.c; do
	name="$(basename "$src" .bpf.c)"
	cc "$out/$name.bpf.o" "${flags[@]}" -I"$here/include" -c "$src"
done
cc "$out/scx_sim_vtime.alt.bpf.o" "${flags[@]}" -I"$here/include/alt" -I"$here/include" -c "$here/scx_sim_vtime.bpf.c"
# The features object again with the v4 ISA (sdiv/smod, movsx, ldsx, bswap).
cc "$out/scx_sim_features.v4.bpf.o" "${flags[@]/-mcpu=v3/-mcpu=v4}" -I"$here/include" -c "$here/scx_sim_features.bpf.c"
echo "$out"
