#!/usr/bin/env bash
# The Raspberry Pi builds run (`make test-arm`, after `make cross`): the
# tests of every package and the demo protocol, built for linux/arm64 and
# for linux/arm GOARM=7, each run under qemu user emulation
# (qemu-user-static, installed when missing). This catches what only those
# targets show: 64-bit atomics misaligned on 32-bit ARM (a panic there),
# 32-bit int and uintptr, and the system calls (pseudo-terminals and their
# ioctls, clocks, scheduling) as the ARM ABIs make them.
#
# The tests run with -short, the suite's convention for leaving out what
# needs the wall clock (runs in real time, latencies measured on it), what
# drives a native server or browser (InfluxDB, Chromium) and the long
# protocol sweeps: emulation is 5 to 20 times slower than the hardware, so
# on the wall clock it would test the emulator. `make test` runs them all
# natively.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

./scripts/test-deps.sh qemu

# The tests that run the CLI, built by `go build`, as a child process
# (signals, kill -9, two controllers, real-time priority refused) skip
# themselves (buildCLI): the kernel cannot execute an ARM build without
# binfmt_misc, which CI machines and containers lack.
export MOCKLOOP_NO_CHILD_EXEC="an ARM build under qemu user emulation (make test-arm)"

runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
for target in arm64 armv7; do
  case $target in
  arm64) arch=(GOARCH=arm64) qemu=qemu-aarch64-static ;;
  armv7) arch=(GOARCH=arm GOARM=7) qemu=qemu-arm-static ;;
  esac
  bin=bin/mockloop-linux-$target
  [ -x "$bin" ] || { echo "test-arm: $bin missing: make cross builds it" >&2; exit 1; }
  echo "== linux/$target: tests under $qemu" >&2
  env GOOS=linux "${arch[@]}" "$GO" test -short -count=1 -timeout 30m -exec "$qemu" ./...
  echo "== linux/$target: the demo under $qemu" >&2
  "$qemu" "$bin" run --runs "$runs/$target" configs/protocols/demo.yaml
done
