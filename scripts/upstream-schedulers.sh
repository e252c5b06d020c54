#!/usr/bin/env bash
# Builds the Linux 6.12 kernel's own example sched_ext schedulers
# (tools/sched_ext/scx_{simple,qmap,central,flatcg}.bpf.c) into OUT_DIR, for
# crates/scx-bpf-sched/tests/upstream.rs (SCX_BPF_EXTERNAL_OBJS=OUT_DIR).
#
# Nothing of the kernel is kept in this repository: the sources come from
# Debian's linux-source-6.12 package (bookworm-backports), vmlinux.h from
# the scx_utils crate on crates.io, both downloaded into OUT_DIR/.src.
#
# Usage: scripts/upstream-schedulers.sh OUT_DIR
# Exit status: 0 with the four objects in OUT_DIR; 1 with one line on
# stderr saying what was missing (the upstream tests then skip).
set -euo pipefail

out=${1:?usage: $0 OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
src="$out/.src"
scheds=(simple qmap central flatcg)

# Bumped whenever the way the objects are built changes.
recipe=3
have_all() {
  [ "$(cat "$out/.recipe" 2>/dev/null)" = "$recipe" ] || return 1
  for s in "${scheds[@]}"; do [ -s "$out/scx_$s.bpf.o" ] || return 1; done
}
if have_all; then
  exit 0
fi

fail() {
  echo "upstream-schedulers: $*" >&2
  exit 1
}

command -v clang-19 >/dev/null 2>&1 || fail "clang-19 not found"
[ -e /usr/include/bpf/bpf_helper_defs.h ] || fail "libbpf-dev not installed"
mkdir -p "$src"
cd "$src"

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

# The kernel sources: tools/sched_ext and libbpf's headers from tools/lib.
ktree="$src/linux-source-6.12"
if [ ! -d "$ktree/tools/sched_ext" ] || [ ! -e "$ktree/kernel/sched/sched.h" ]; then
  if ! ls linux-source-6.12_*.deb >/dev/null 2>&1; then
    if ! apt-get download linux-source-6.12 >/dev/null 2>&1; then
      # The package lives in bookworm-backports; add that suite if the
      # machine's apt does not know it yet.
      if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" |
          $SUDO tee /etc/apt/sources.list.d/scxsim-backports.list >/dev/null ||
          fail "cannot add bookworm-backports to apt's sources"
      fi
      $SUDO apt-get update -qq >/dev/null 2>&1 || true
      apt-get download linux-source-6.12 >/dev/null 2>&1 ||
        fail "apt-get download linux-source-6.12 failed"
    fi
  fi
  deb=$(ls linux-source-6.12_*.deb | head -1)
  rm -rf deb && mkdir deb
  dpkg-deb -x "$deb" deb
  tar -xf deb/usr/src/linux-source-6.12.tar.xz \
    linux-source-6.12/tools/sched_ext linux-source-6.12/tools/lib/bpf \
    linux-source-6.12/kernel/sched/sched.h ||
    fail "cannot unpack $deb"
  rm -rf deb "$deb"
fi

# vmlinux.h generated from a sched_ext kernel, shipped in scx_utils.
if [ ! -e "$src/vmlinux/vmlinux.h" ]; then
  crate=scx_utils-1.1.4.crate
  curl -fsSL -o "$crate" "https://static.crates.io/crates/scx_utils/$crate" ||
    fail "cannot download $crate from crates.io"
  tar -xzf "$crate" scx_utils-1.1.4/vmlinux.tar.zst
  tar --zstd -xf scx_utils-1.1.4/vmlinux.tar.zst || fail "cannot unpack vmlinux.tar.zst"
  rm -rf scx_utils-1.1.4 "$crate"
fi

# That vmlinux.h describes a newer kernel. Where sched_ext's enum values
# changed since 6.12, give the objects 6.12's values (a 6.12 vmlinux.h
# would): SCX_ENQ_HEAD / SCX_ENQ_CPU_SELECTED are ENQUEUE_HEAD /
# ENQUEUE_RQ_SELECTED of 6.12's kernel/sched/sched.h, and 6.12 keeps the
# task state (include/linux/sched/ext.h) as a 2-bit enum NONE, INIT, READY,
# ENABLED at bit 8.
sched_h="$ktree/kernel/sched/sched.h"
define_of() {
  awk -v n="$1" '$1 == "#define" && $2 == n { print $3; exit }' "$sched_h"
}
enq_head=$(define_of ENQUEUE_HEAD)
enq_selected=$(define_of ENQUEUE_RQ_SELECTED)
[ -n "$enq_head" ] && [ -n "$enq_selected" ] || fail "no ENQUEUE_HEAD/ENQUEUE_RQ_SELECTED in $sched_h"
mkdir -p inc
cp -L vmlinux/arch/x86/vmlinux.h inc/vmlinux.h
set_enum() {
  sed -i -E "s/^(\t$1 = )[0-9]+(ULL|LL|U)?,/\1$(($2))\2,/" inc/vmlinux.h
  grep -qP "^\t$1 = $(($2))(ULL|LL|U)?," inc/vmlinux.h || fail "cannot set $1 in vmlinux.h"
}
set_enum SCX_ENQ_HEAD "$enq_head"
set_enum SCX_ENQ_CPU_SELECTED "$enq_selected"
set_enum SCX_TASK_STATE_BITS 2
set_enum SCX_TASK_STATE_MASK "3 << 8"
set_enum SCX_TASK_INIT 1
set_enum SCX_TASK_READY 2
set_enum SCX_TASK_ENABLED 3

# libbpf's headers as the kernel tree has them (bpf_for() and friends are
# newer than Debian's libbpf-dev), with Debian's generated helper table.
mkdir -p inc/bpf
cp "$ktree"/tools/lib/bpf/*.h inc/bpf/
cp /usr/include/bpf/bpf_helper_defs.h inc/bpf/

se="$ktree/tools/sched_ext"
for s in "${scheds[@]}"; do
  # 6.12 stable's scx_flatcg sets SCX_OPS_HAS_CGROUP_WEIGHT, which the
  # newer vmlinux.h no longer has; its value in 6.12 is 1 << 16.
  clang-19 -target bpf -O2 -g -mcpu=v3 -D__TARGET_ARCH_x86 \
    -DSCX_OPS_HAS_CGROUP_WEIGHT='(1LLU << 16)' \
    -I inc -I "$se/include" \
    -I "$se/include/bpf-compat" -I "$se" \
    -c "$se/scx_$s.bpf.c" -o "$out/scx_$s.bpf.o" ||
    fail "clang-19 failed on scx_$s.bpf.c"
done
echo "$recipe" >"$out/.recipe"
have_all || fail "objects missing after the build"
