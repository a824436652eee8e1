#!/usr/bin/env bash
# The sweep under a real one-node Slurm (tests/cluster/slurm-lib.sh: munged, slurmctld and slurmd
# from Debian's packages, state in a temp folder, stopped by PID):
#  - scripts/slurm/sweep.sbatch through `sbatch --wait -n 2` (srun --mpi=pmix inside): the
#    reference; every rank logs its SLURM_LOCALID. The same script with SWEEP_LAUNCHER=mpirun
#    (Open MPI's mpirun inside the allocation), and the sweep through `srun --mpi=pmix -n 2`
#    directly: the same summary (timings aside)
#  - `scancel --signal=TERM` mid-way: the ranks save their epoch and exit 130 (srun returns
#    it), `sweep --status` shows the state from the files while the job runs and after; the
#    resubmitted job resumes and ends with the same summary
#  - pre-emption (SIGTERM to the batch script, as --signal=B:TERM@120 sends): the script stops
#    the sweep through its STOP file and requeues the job (--requeue), which resumes when it runs
#    again and ends with the same summary
source "${TL_SOURCE_DIR:?}/tests/cluster/test-env.sh"
skip_unless slurm_can_run
work=$(mktemp -d /tmp/cluster_slurm.XXXXXX)
trap 'scancel --quiet --user=root 2>/dev/null; slurm_down; rm -rf "$work"' EXIT
slurm_up "$work/slurm" || { echo "slurm_up failed"; exit 1; }
cd "$work"
SBATCH=$TL_SOURCE_DIR/scripts/slurm/sweep.sbatch

"$TRAINER" demo-data data/fashion --train 10 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
# No cache: every epoch runs the backbone, so a signal lands inside a trial.
cat > c.yaml <<'YAML'
name: c
base:
  data: {root: data/fashion, image_size: 32}
  model: {weights: random:1, head: {hidden: 32}}
  train: {epochs: 3, batch_size: 32}
  augment: {strength: 1}
  feature_cache: {views: 0}
sweep:
  axes:
    model.head.dropout: [0.2, 0.6]
    train.seed: [1, 2]
YAML
some_epoch() { compgen -G "$1/c/*/train_log.csv" >/dev/null && [ "$(cat "$1"/c/*/train_log.csv | grep -c '^[0-9]')" -ge 2 ]; }
job_gone() { [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; }
held_for_begin_time() { [ "$(squeue -h -j "$1" -o '%T %r' 2>/dev/null)" = "PENDING BeginTime" ]; }
# Bring a requeued job forward: Slurm holds it 120 s (PENDING, Reason=BeginTime). The update
# only takes once the job is back in the queue that way, so wait for that (the first try could
# race the requeue) and update only while it is held for its begin time: an update each second
# of a job pending for other reasons (the node still finishing the last step) would keep
# resetting it.
start_now() {  # start_now JOB SECONDS OUTFILE
    local end=$((SECONDS + $2)) held_seen=""
    while [ $SECONDS -lt $end ]; do
        # Slurm holds a requeued job ~120 s so that its old run's end is in; brought forward
        # while the old batch step still ends, that end was counted as the new run's (CI:
        # "Allocate JobId=6" then "_job_complete: JobId=6 WEXITSTATUS 1" in the same ms). So
        # only once no slurmstepd of the job is left, and the hold seen on two polls.
        if held_for_begin_time "$1" && ! pgrep -f "slurmstepd: \[$1\." >/dev/null; then
            if [ "$held_seen" = "$1" ]; then scontrol update jobid="$1" StartTime=now 2>/dev/null; fi
            held_seen=$1
        elif grep -q 'restart 1' "$3"; then return 0
        else held_seen=""; fi
        sleep 1
    done
    echo "job $1 did not start again: squeue says '$(squeue -h -j "$1" -o '%T %r' 2>&1)'; slurmctld's lines on it:"
    grep -E "JobId=$1( |$)" "$work/slurm/ctld.log" | tail -n 20
    return 1
}
same_as_ref() { diff <(untimed "${2:-ref}/c/summary.csv") <(untimed "$1/c/summary.csv"); }

# --- the reference: sbatch --wait, srun --mpi=pmix inside
timeout 300 sbatch --wait -n 2 -o ref.out "$SBATCH" c.yaml --runs ref > /dev/null; rc=$?
cat ref.out
check_eval "sbatch --wait: exit 0" "[ $rc -eq 0 ]"
check_eval "sbatch: 4 trials done" "[ \$(grep -c ',done,' ref/c/summary.csv) -eq 4 ]"
check_eval "sbatch: srun launched 2 ranks" "grep -q 'launcher srun' ref.out && grep -q '4 to run on 2 ranks' ref.out"
check_eval "sbatch: ranks log their Slurm local id" "grep -q 'SLURM_LOCALID=0' ref/c/logs/rank0.log && grep -q 'SLURM_LOCALID=1' ref/c/logs/rank1.log"

# --- the same script with mpirun inside the allocation
timeout 300 sbatch --wait -n 2 -o A.out --export=ALL,SWEEP_LAUNCHER=mpirun "$SBATCH" c.yaml --runs A > /dev/null; rc=$?
check_eval "sbatch with mpirun: exit 0" "[ $rc -eq 0 ] && grep -q 'launcher mpirun' A.out && grep -q '4 to run on 2 ranks' A.out"
check_eval "sbatch with mpirun: same summary" "same_as_ref A"

# --- srun --mpi=pmix -n 2 directly
timeout 300 srun --mpi=pmix -n 2 "$SWEEP_BIN" c.yaml --runs B > B.out 2>&1; rc=$?
check_eval "srun --mpi=pmix -n 2: exit 0" "[ $rc -eq 0 ]"
check_eval "srun: 2 ranks" "grep -q '4 to run on 2 ranks' B.out"
check_eval "srun: summary equals the reference" "same_as_ref B"

# --- scancel --signal=TERM mid-way, then resubmit
# The cancelled job runs 12-epoch trials (its own reference): with 3, a quiet fast machine
# finished the running trials between the first epoch and the stop, leaving none interrupted.
sed 's/epochs: 3/epochs: 12/' c.yaml > c12.yaml
timeout 300 sbatch --wait -n 2 -o ref12.out "$SBATCH" c12.yaml --runs ref12 > /dev/null
check_eval "reference of the 12-epoch sweep: 4 trials done" "[ \$(grep -c ',done,' ref12/c/summary.csv) -eq 4 ]"
job=$(sbatch --parsable -n 2 -o C1.out --export=ALL,SWEEP_REQUEUE=0 "$SBATCH" c12.yaml --runs C)
wait_for 120 some_epoch C; check_eval "job $job got going" "[ $? -eq 0 ]"
"$SWEEP_BIN" --status C/c > status-running.txt; rc=$?
cat status-running.txt
check_eval "--status while running: exit 0" "[ $rc -eq 0 ]"
check_eval "--status while running: trials running on a host/rank, epoch k of 12" \
    "grep -Eq 'running on [^ ]+/rank [01] +[0-9]+ of 12' status-running.txt"
check_eval "--status while running: pending trials and an ETA" "grep -q ' pending ' status-running.txt && grep -q 'ETA' status-running.txt"
scancel --signal=TERM "$job"
wait_for 120 job_gone "$job"; check_eval "cancelled job ended" "[ $? -eq 0 ]"
cat C1.out
check_eval "cancelled job: the sweep exited 130" "grep -q 'sweep exited 130' C1.out"
check_eval "cancelled job: trials left interrupted" "grep -q ',interrupted,' C/c/summary.csv"
"$SWEEP_BIN" --status C/c > status-stopped.txt
cat status-stopped.txt
check_eval "--status after the stop: interrupted trials, none running" \
    "grep -q ' interrupted ' status-stopped.txt && ! grep -q 'running on' status-stopped.txt"
timeout 300 sbatch --wait -n 2 -o C2.out "$SBATCH" c12.yaml --runs C > /dev/null; rc=$?
check_eval "resubmitted job: exit 0" "[ $rc -eq 0 ]"
check_eval "resubmitted job: summary equals the reference" "same_as_ref C ref12"
"$SWEEP_BIN" --status C/c > status-done.txt
check_eval "--status at the end: 4 done, ETA 0s" "grep -q ': 4 done, .* 0 pending.*ETA 0s' status-done.txt"

# --- pre-emption: SIGTERM to the batch script; it requeues itself and resumes
job=$(sbatch --parsable -n 2 -o D.out "$SBATCH" c.yaml --runs D)
wait_for 120 some_epoch D; check_eval "job $job got going" "[ $? -eq 0 ]"
scancel --batch --signal=TERM "$job"
wait_for 60 grep -q 'requeued' D.out; check_eval "the script asked the sweep to stop and requeued the job" "[ $? -eq 0 ]"
start_now "$job" 120 D.out; check_eval "the requeued job started again" "[ $? -eq 0 ]"
wait_for 300 grep -q 'sweep exited 0' D.out; check_eval "the requeued job ran again and finished" "[ $? -eq 0 ]"
wait_for 60 job_gone "$job"
cat D.out
check_eval "the requeued job restarted once" "grep -q 'restart 1' D.out"
check_eval "pre-empted and requeued: summary equals the reference" "same_as_ref D"

checks_end
