#!/usr/bin/env bash
# Dry-runs a protocol on a simulated rig on virtual time and reports what a
# CI job needs to plan for: wall time, peak resident memory (the process's
# VmHWM, read while it runs) and the size of the run record on disk.
#   scripts/dry-run.sh RIG.yaml PROTOCOL.yaml [mockloop run flags…]
# The record goes to $RUNS (default .cache/dry-runs) and stays there.
set -euo pipefail
cd "$(dirname "$0")/.."
rig=$1 protocol=$2
shift 2
runs=${RUNS:-.cache/dry-runs}
mkdir -p "$runs"
start=$(date +%s)
./bin/mockloop run --rig "$rig" --runs "$runs" --quiet "$@" "$protocol" &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
	if hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ]; then
		peak=$hwm
	fi
	sleep 2
done
rc=0
wait "$pid" || rc=$?
end=$(date +%s)
dir=$(ls -td "$runs"/*/ | head -1)
echo "dry run: $protocol on $rig: exit $rc, wall $((end - start)) s, peak RSS $((peak / 1024)) MiB, record $(du -sh "$dir" | cut -f1) ($dir)"
exit "$rc"
