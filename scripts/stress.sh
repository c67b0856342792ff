#!/usr/bin/env bash
# Runs a command while CPU-bound processes load the machine (STRESS_PROCS,
# default 2: on a 2-core CI machine, as many as it has cores), and returns
# the command's status. `make test-stress` runs the whole suite under it: a
# test that passes only on an idle machine asserts the machine, not the
# product.
set -euo pipefail
n=${STRESS_PROCS:-2}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
for _ in $(seq "$n"); do
  ( while :; do :; done ) &
  pids+=($!)
done
echo "stress: $n CPU-bound processes (${pids[*]}) while: $*" >&2
"$@"
