#!/usr/bin/env bash
# Runs every test scxsim has, installing what the tests need first.
# Usage: ./test.sh            (CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v clang-19 >/dev/null 2>&1 || need_apt+=(clang-19 llvm-19)
[ -e /usr/include/bpf/bpf_helpers.h ] || need_apt+=(libbpf-dev)
# The HTML report test renders in headless Chromium; the Perfetto trace test
# decodes with Perfetto's own Python bindings (installed into a venv below).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-dejavu-core)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
if ! target/pyenv/bin/python -c 'import perfetto.protos.perfetto.trace.perfetto_trace_pb2' >/dev/null 2>&1; then
  echo "test.sh: installing the perfetto Python package into target/pyenv"
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install -q --disable-pip-version-check perfetto
fi
export SCXSIM_PYTHON="$PWD/target/pyenv/bin/python"
# Tests that need an external tool fail instead of skipping when CI is set.
export CI="${CI:-1}"

# The kernel's own example schedulers, built from Linux 6.12's sources for
# the tests that run them unmodified (they skip if this cannot be done).
echo "test.sh: building the kernel's example schedulers"
if scripts/upstream-schedulers.sh target/upstream-schedulers; then
  export SCX_BPF_EXTERNAL_OBJS="$PWD/target/upstream-schedulers"
else
  echo "test.sh: the kernel's example schedulers are unavailable; their tests will skip"
fi

echo "test.sh: formatting"
cargo fmt --all -- --check
echo "test.sh: clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "test.sh: tests"
cargo nextest run --workspace --no-fail-fast
echo "test.sh: doc tests"
cargo test --workspace --doc -q
echo "test.sh: docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps -q
echo "test.sh: all checks passed"
