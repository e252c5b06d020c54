#!/usr/bin/env bash
# Runs every test scxsim has, installing what the tests need first.
# Usage: ./test.sh            (CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v clang-19 >/dev/null 2>&1 || need_apt+=(clang-19 llvm-19)
[ -e /usr/include/bpf/bpf_helpers.h ] || need_apt+=(libbpf-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

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
