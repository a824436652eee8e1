#!/usr/bin/env bash
# The sweep across test hosts (tests/cluster/lib.sh: namespaces, rsh launcher, MPI over TCP):
#  - mpirun -n 4 --host h1:2,h2:2: runs with no extra flag (the trial queue needs no one-sided
#    window), phase 1 split over the 4 ranks, trials on both hosts, every rank's log names its
#    host, node and node-local rank and its share of the node's cores
#  - summary.csv and report.md equal (timings aside) those of mpirun -n 2 on one host and of a
#    plain run (one rank), and so does each trial's result.csv and train_log.csv: results do not
#    depend on the rank, the host or the number of ranks (nor on the thread count they imply)
#  - feature_cache.dir on node-local scratch (a private tmpfs per host): each node fills a whole
#    copy of its own, the summary is unchanged
#  - --runs on node-local scratch: refused before any work, naming the host and the folder
source "${TL_SOURCE_DIR:?}/tests/cluster/test-env.sh"
skip_unless cluster_can_run
work=$(mktemp -d /tmp/cluster_sweep.XXXXXX)
scratch=$work/scratch   # a private tmpfs on each test host
mkdir -p "$scratch"
cluster_up 2 --scratch "$scratch" || { echo "cluster_up failed"; exit 1; }
trap 'cluster_down; rm -rf "$work"' EXIT
cd "$work"

"$TRAINER" demo-data data/fashion --train 20 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
write_sweep() {  # write_sweep FILE CACHE_DIR
    cat > "$1" <<YAML
name: c
base:
  data: {root: data/fashion, image_size: 32}
  model: {weights: random:1, head: {hidden: 32}}
  train: {epochs: 3, batch_size: 32}
  feature_cache: {views: 1, dir: $2}
sweep:
  axes:
    model.head.dropout: [0.2, 0.6]
    augment.strength: [0, 1]
YAML
}
write_sweep c.yaml cache
write_sweep local.yaml "$scratch/features"
# report.md without its seconds column, the line naming the sweep file and the cost section
# (paths, ranks, free space, the measured rates and times)
report_untimed() {
    awk -F'|' '/^## Cost/ { skip = 1; next } /^## / { skip = 0 } skip { next }
               /^From `/ { next } /^\| # \|/ { for (i = 1; i <= NF; i++) if ($i == " seconds ") col = i }
               col && /^\|/ { $col = "" } { print }' OFS='|' "$1"
}
exact_csv() { diff <(untimed "$1") <(untimed "$2"); }
csvs_match() {  # csvs_match CMP RUNS_A RUNS_B: summary and every trial's result and log, compared by CMP
    local cmp=$1 t d; shift
    $cmp "$1/c/summary.csv" "$2/c/summary.csv" || return 1
    for t in "$1"/c/*/result.csv; do
        d=$(basename "$(dirname "$t")")
        $cmp "$t" "$2/c/$d/result.csv" && $cmp "$1/c/$d/train_log.csv" "$2/c/$d/train_log.csv" || return 1
    done
}
# Bit for bit, report included; close: within 1e-6 relative (close_csv), for different thread counts.
same_results() { csvs_match exact_csv "$1" "$2" && diff <(report_untimed "$1/c/report.md") <(report_untimed "$2/c/report.md"); }
close_results() { csvs_match close_csv "$1" "$2"; }

# --- references: one rank (plain run), and mpirun -n 2 on one host
timeout 300 "$SWEEP_BIN" c.yaml --runs one > one.out 2>&1; rc=$?
check_eval "plain run exits 0" "[ $rc -eq 0 ]"
cluster_mpirun -n 2 --host h1:2 "$SWEEP_BIN" c.yaml --runs two > two.out 2>&1; rc=$?
check_eval "mpirun -n 2 on one host exits 0" "[ $rc -eq 0 ]"

# --- two hosts, two ranks each
cluster_mpirun -n 4 --host h1:2,h2:2 "$SWEEP_BIN" c.yaml --runs four > four.out 2>&1; rc=$?
cat four.out
check_eval "mpirun -n 4 over 2 hosts exits 0" "[ $rc -eq 0 ]"
check_eval "no MPI window error" "! grep -q MPI_ERR_WIN four.out"
check_eval "4 ranks on 2 nodes" "grep -q '4 to run on 4 ranks (2 nodes)' four.out"
check_eval "phase 1 split over 4 shards" "[ \$(grep -c 'phase 1: backbone features.*4 shards' four.out) -eq 2 ]"
for r in 0 1 2 3; do
    h=h$((r / 2 + 1)); node=$((r / 2 + 1)); lr=$((r % 2))
    check_eval "rank $r log: on $h, node $node of 2, local $lr/2, 1 of 2 cores" \
        "grep -q 'rank $r/4 on $h (node $node of 2, local $lr/2): CPU, 1 of 2 cores' four/c/logs/rank$r.log"
    check_eval "rank $r filled phase 1 shard $r/4" "grep -q 'shard $r/4: exit 0' four/c/logs/rank$r.log"
done
# Which host runs the trials is up to the queue (first to ask, first served: on a quiet fast
# machine h2's ranks, done with phase 1 first, took all 4 once); the shards above show work
# on both. Every trial started once, on one of the 4 ranks.
on_h1=$(cat four/c/logs/rank0.log four/c/logs/rank1.log | grep -c 'trial .*: start')
on_h2=$(cat four/c/logs/rank2.log four/c/logs/rank3.log | grep -c 'trial .*: start')
echo "trials started: $on_h1 on h1, $on_h2 on h2"
check_eval "4 trial starts over the two hosts' ranks ($on_h1 on h1, $on_h2 on h2)" "[ $((on_h1 + on_h2)) -eq 4 ]"
check_eval "4 trials done" "[ \$(grep -c ',done,' four/c/summary.csv) -eq 4 ]"
check_eval "-n 4 on 2 hosts: same results as -n 2 on one host" "same_results two four"
# One rank runs its trainers on 2 threads, -n 2 on one host on 1 each: bitwise equal on some
# machines, 1-2 bits apart in float32 losses on others.
check_eval "-n 2 on one host: same results as one rank (2 threads against 1, within 1e-6)" "close_results one two"
check_eval "threads differ between the runs (2 vs 1 per rank)" \
    "grep -q 'CPU, 2 of 2 cores' one/c/logs/rank0.log && grep -q 'CPU, 1 of 2 cores' two/c/logs/rank0.log"

# --- node-local feature cache
cluster_mpirun -n 4 --host h1:2,h2:2 "$SWEEP_BIN" local.yaml --runs local > local.out 2>&1; rc=$?
cat local.out
check_eval "node-local cache: exits 0" "[ $rc -eq 0 ]"
check_eval "node-local cache: the sweep says so" "grep -q 'features is not shared.*each of the 2 nodes fills its own copy' local.out"
check_eval "node-local cache: each node split phase 1 over its 2 ranks" "grep -q 'node-local; this rank fills shard 1/2' local/c/logs/rank3.log"
cluster_exec h1 sh -c "cd $scratch/features && find . -name 'chunk-*' | sort" > h1.chunks
cluster_exec h2 sh -c "cd $scratch/features && find . -name 'chunk-*' | sort" > h2.chunks
check_eval "node-local cache: h1 holds a whole cache" "[ -s h1.chunks ] && [ \$(wc -l < h1.chunks) -eq \$(find four/c/cache -name 'chunk-*' | wc -l) ]"
check_eval "node-local cache: h2 holds the same chunks" "cmp -s h1.chunks h2.chunks"
check_eval "node-local cache: private to the hosts" "[ -z \"\$(ls -A $scratch)\" ]"
check_eval "node-local cache: no partial chunk left" "! cluster_exec h2 find $scratch/features -name '*.tmp*' | grep -q ."
check_eval "node-local cache: same results" "same_results two local"

# --- --runs that not every rank sees
cluster_mpirun -n 2 --host h1:1,h2:1 "$SWEEP_BIN" c.yaml --runs "$scratch/runs" > notshared.out 2>&1; rc=$?
cat notshared.out
check_eval "--runs on node-local scratch: exit 2" "[ $rc -eq 2 ]"
check_eval "--runs on node-local scratch: message names the host and folder" \
    "grep -q 'rank 1 on host h2 does not see $scratch/runs/c, which rank 0 made on host h1: --runs must be a folder every rank sees' notshared.out"
check_eval "--runs on node-local scratch: no trial started" "! cluster_exec h1 find $scratch/runs -name train_log.csv | grep -q ."

checks_end
