#!/usr/bin/env bash
# Stop the one-node SLURM test cluster that tests/slurm/up.sh started: cancel its jobs, then stop slurmd,
# slurmctld and munged by the PIDs up.sh recorded in $G2RL_SLURM_STATE (default /run/g2rl-slurm).
# Never kills by name. Safe to run when nothing is running. Exits 1 if a recorded daemon would not stop.
set -uo pipefail

STATE="${G2RL_SLURM_STATE:-/run/g2rl-slurm}"
log() { echo "down.sh: $*"; }

[ -d "$STATE" ] || { log "nothing recorded in $STATE; nothing to stop"; exit 0; }

alive() {  # alive PID EXPECTED_COMM -- guards against a recycled PID belonging to another program
    [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# Cancel the test cluster's jobs first, so slurmd leaves no job step (slurmstepd) behind when it stops.
if [ -s "$STATE/slurmctld.pid" ] && alive "$(cat "$STATE/slurmctld.pid")" slurmctld; then
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
        log "cancelling remaining jobs: $(squeue -h -o %i | tr '\n' ' ')"
        scancel --full --signal=KILL $(squeue -h -o %i) 2>/dev/null || true
        scancel $(squeue -h -o %i) 2>/dev/null || true
        for _ in $(seq 1 40); do
            [ -z "$(squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
            sleep 0.25
        done
    fi
fi

status=0
# Order: compute daemon, controller, then munge (which both use for authentication).
for name in slurmd slurmctld munged; do
    f="$STATE/$name.pid"
    [ -s "$f" ] || continue
    pid="$(cat "$f")"
    if alive "$pid" "$name"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do alive "$pid" "$name" || break; sleep 0.2; done
        if alive "$pid" "$name"; then
            log "$name ($pid) ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
        fi
        if alive "$pid" "$name"; then log "ERROR: $name ($pid) is still running"; status=1; continue; fi
        log "stopped $name ($pid)"
    else
        log "$name ($pid) was not running"
    fi
    rm -f "$f"
done
rmdir "$STATE" 2>/dev/null || true
exit "$status"
