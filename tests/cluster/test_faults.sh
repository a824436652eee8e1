#!/usr/bin/env bash
# A host dies, and a sweep under mpirun is interrupted, on the test hosts of tests/cluster/lib.sh:
#  - kill -9 every process of host h2 in the middle of phase 1, and again in the middle of
#    phase 2: mpirun ends within 60 s with a non-zero status and a message; rerunning the same
#    command finishes, and its summary equals an uninterrupted run's; every trial ran each of
#    its epochs exactly once (no trial lost, none counted twice)
#  - exit statuses under mpirun: SIGINT and SIGTERM to mpirun give 1 (Open MPI's mpirun sets it
#    in its own signal handler, whatever the ranks return), the ranks exit 130 and the sweep says
#    it was interrupted; <sweep>/STOP stops it with 130 from mpirun; a bad sweep file gives 2, a
#    failed trial 1, a finished sweep 0
source "${TL_SOURCE_DIR:?}/tests/cluster/test-env.sh"
skip_unless cluster_can_run
work=$(mktemp -d /tmp/cluster_faults.XXXXXX)
cluster_up 2 || { echo "cluster_up failed"; exit 1; }
trap 'cluster_down; rm -rf "$work"' EXIT
cd "$work"

"$TRAINER" demo-data data/small --train 10 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
"$TRAINER" demo-data data/large --train 60 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
write_sweep() {  # write_sweep NAME DATA VIEWS EPOCHS
    cat > "$1.yaml" <<YAML
name: $1
base:
  data: {root: data/$2, image_size: 32}
  model: {weights: random:1, head: {hidden: 32}}
  train: {epochs: $4, batch_size: 32}
  augment: {strength: 1}
  feature_cache: {views: $3}
sweep:
  axes:
    model.head.dropout: [0.2, 0.6]
    train.seed: [1, 2]
YAML
}
# p1: phase 1 takes a while (800 training images, 2 views); p2: no cache, every epoch runs
# the backbone, so a kill lands inside a trial.
write_sweep p1 large 2 2
write_sweep p2 small 0 3
on_two_hosts() { cluster_mpirun -n 2 --host h1:1,h2:1 "$SWEEP_BIN" "$@"; }
h2_in_phase1() { [ -s runs/p1/logs/cache-group1-rank1.log ]; }
h2_trial_has_epoch() {
    for d in $(awk '/trial .*: start/ { sub(":", "", $6); print $6 }' runs/p2/logs/rank1.log 2>/dev/null); do
        [ "$(grep -c . "runs/p2/$d/train_log.csv" 2>/dev/null)" -ge 2 ] && return 0; done; return 1; }
sig_trial_has_epoch() {
    local f; for f in "$1"/p2/*/train_log.csv; do [ "$(grep -c . "$f" 2>/dev/null)" -ge 2 ] && return 0; done; return 1; }
epochs_once() {  # every trial of sweep $1: epochs 0..N-1, each once
    local f
    for f in runs/$1/*/train_log.csv; do
        [ "$(tail -n +2 "$f" | cut -d, -f1 | tr -d '\r' | tr '\n' ' ')" = "$(seq -s ' ' 0 $(($2 - 1))) " ] || { echo "$f"; return 1; }
    done
}

# --- references, never interrupted, on one host
for s in p1 p2; do
    cluster_mpirun -n 2 --host h1:2 "$SWEEP_BIN" $s.yaml --runs ref > ref-$s.out 2>&1
    check_eval "reference $s exits 0" "[ $? -eq 0 ]"
done

# --- kill -9 host h2 during phase 1, then during phase 2
kill_h2_when() {  # kill_h2_when SWEEP CONDITION: runs SWEEP over 2 hosts, kills h2 once CONDITION holds
    on_two_hosts "$1.yaml" --runs runs > "$1-killed.out" 2>&1 &
    local mp=$! t0
    wait_for 120 "$2"; check_eval "$1: $2 reached" "[ $? -eq 0 ]"
    t0=$SECONDS
    cluster_kill_host h2
    wait $mp; rc=$?
    cat "$1-killed.out"
    echo "$1: mpirun ended $((SECONDS - t0)) s after the kill, status $rc"
    check_eval "$1: the job ended within 60 s of the kill" "[ $((SECONDS - t0)) -le 60 ]"
    check_eval "$1: non-zero status ($rc)" "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
    check_eval "$1: mpirun says a node or process was lost" "grep -qi 'daemon\|lost\|terminated\|killed' $1-killed.out"
    check_eval "$1: no summary claims every trial done" "! [ \$(grep -c ',done,' runs/$1/summary.csv 2>/dev/null || echo 0) -eq 4 ]"
    sleep 2   # trainers orphaned on h1 save their epoch and exit (the rerun would wait for their locks)
    on_two_hosts "$1.yaml" --runs runs > "$1-rerun.out" 2>&1; rc=$?
    cat "$1-rerun.out"
    check_eval "$1: the rerun exits 0" "[ $rc -eq 0 ]"
    check_eval "$1: 4 trials done, each once" "[ \$(grep -c ',done,' runs/$1/summary.csv) -eq 4 ] && [ \$(wc -l < runs/$1/summary.csv) -eq 5 ]"
    check_eval "$1: summary equals the uninterrupted run's" "close_csv ref/$1/summary.csv runs/$1/summary.csv"
}
kill_h2_when p1 h2_in_phase1
check_eval "p1: every epoch once" "epochs_once p1 2"
kill_h2_when p2 h2_trial_has_epoch
check_eval "p2: every epoch once" "epochs_once p2 3"
check_eval "p2: train logs equal the uninterrupted run's" \
    "for t in ref/p2/*/train_log.csv; do close_csv \$t runs/p2/\${t#ref/p2/} || exit 1; done"

# --- signals and exit statuses under mpirun
interrupt() {  # interrupt HOW: HOW = INT | TERM | STOP
    rm -rf "sig-$1"
    on_two_hosts p2.yaml --runs "sig-$1" > "sig-$1.out" 2>&1 &
    local mp=$!
    # After a trial's first epoch: the run is well inside phase 2 and has most of it to go
    # (a fixed 3 s let a quiet fast machine finish the sweep before the signal).
    wait_for 120 sig_trial_has_epoch "sig-$1"
    if [ "$1" = STOP ]; then touch "sig-$1/p2/STOP"; else cluster_signal h1 "$1" mpirun; fi
    wait $mp; rc=$?
}
interrupt INT
check_eval "SIGINT to mpirun: status 1 (mpirun's own)" "[ $rc -eq 1 ]"
check_eval "SIGINT to mpirun: the ranks stop as interrupted" "grep -q 'SIGINT/SIGTERM: stopping' sig-INT/p2/logs/rank*.log"
interrupt TERM
check_eval "SIGTERM to mpirun: status 1 (mpirun's own)" "[ $rc -eq 1 ]"
check_eval "SIGTERM to mpirun: the ranks stop as interrupted" "grep -q 'SIGINT/SIGTERM: stopping' sig-TERM/p2/logs/rank*.log"
interrupt STOP
cat sig-STOP.out
check_eval "STOP file: mpirun exits 130" "[ $rc -eq 130 ]"
check_eval "STOP file: the sweep says how to resume" "grep -q 'interrupted: rerun the same command to resume' sig-STOP.out"
# A rank whose share of the queue has already run has nothing to stop and logs nothing;
# every rank that was running or waiting for work stops within 2 s of the first.
grep -H 'stopping after\|another rank asked\|trial .* ended\|claimed' sig-STOP/p2/logs/rank*.log | tail -n 12
check_eval "STOP file: every rank still working stopped within 2 s of the first" \
    "awk '/stopping after|another rank asked/ { split(\$2, t, \":\"); s = t[1]*3600 + t[2]*60 + t[3]; if (!n++ || s < lo) lo = s; if (s > hi) hi = s } END { exit !(n >= 1 && hi - lo <= 2) }' sig-STOP/p2/logs/rank*.log"
sleep 2
on_two_hosts p2.yaml --runs sig-STOP > resume.out 2>&1; rc=$?
check_eval "after STOP: the rerun exits 0 with the same summary" "[ $rc -eq 0 ] && close_csv ref/p2/summary.csv sig-STOP/p2/summary.csv"
sed 's/dropout: \[0.2, 0.6\]/dropout: [0.2, 1.6]/' p2.yaml > bad.yaml
on_two_hosts bad.yaml --runs runs > bad.out 2>&1; rc=$?
check_eval "bad sweep file: status 2 from mpirun" "[ $rc -eq 2 ]"
cp -r data/small data/broken && echo "not a JPEG" > data/broken/train/bag/broken.jpg
sed 's#data/small#data/broken#; s/^name: p2/name: broken/; s/epochs: 4/epochs: 1/' p2.yaml > broken.yaml
on_two_hosts broken.yaml --runs runs > broken.out 2>&1; rc=$?
check_eval "failed trials: status 1 from mpirun" "[ $rc -eq 1 ] && grep -q 'finished with failed trials' broken.out"
on_two_hosts p2.yaml --runs runs > done.out 2>&1; rc=$?
check_eval "finished sweep: status 0 from mpirun" "[ $rc -eq 0 ]"

checks_end
