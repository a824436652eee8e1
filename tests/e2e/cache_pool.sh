#!/usr/bin/env bash
# Repeats for free: trials that differ only in train.seed share one pool of cached augmented
# views (keyed by feature_cache.seed), and a sweep states its cost before it starts.
#  - a 2-seed x 2-dropout sweep (mpirun -n 2) builds exactly one pool: the backbone passes
#    phase 1 logs are the 2 views of the 100 training images plus validation and test once,
#    as many as --dry-run and the run's first lines said; report.md holds the cost and the
#    time phase 1 took; a rerun's dry run has nothing left to compute
#  - the same sweep on a pool built once by hand (trainer cache-features) computes nothing
#    and gives exactly the same results; the seeds' trials still differ (init, shuffle,
#    dropout, choice of view are train.seed's)
#  - feature_cache.seed: trial builds a pool per seed (2 groups, twice the training passes);
#    its seed-42 trials equal the shared sweep's (the default pool is seed 42's own)
#  - feature_cache.max_gib below the cache's size: --dry-run and the run refuse (exit 2) with
#    the figures, before anything is computed
#  - feature_cache.dtype: fp16 stores half the bytes, a trial reading the chunks repeats the
#    numbers of the trial that computed them, and the results stay near float32's
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
command -v mpirun > /dev/null || { echo "no mpirun: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_cache_pool.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
mpi2() { OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -n 2 "$@"; }
export TRAINER

"$TRAINER" demo-data data --train 10 --val 3 --test 3 > /dev/null || { echo "demo-data failed"; exit 1; }   # 100 / 30 / 30

write_sweep() {  # NAME FEATURE_CACHE_YAML
    cat > "$1.yaml" <<YAML
name: $1
base:
  data: {root: $work/data, image_size: 32}
  model: {weights: "random:1", head: {hidden: 32}}
  train: {epochs: 3, batch_size: 32}
  feature_cache: $2
sweep:
  axes:
    model.head.dropout: [0.2, 0.6]
    train.seed: [42, 43]
YAML
}
# The dry run's count of backbone passes, and what phase 1 computed (its cache-features lines).
planned() { sed -n 's/^\(\[.*\] \)\{0,1\}phase 1: .* \([0-9][0-9]*\) backbone passes.*/\2/p' <<< "$1"; }
computed() { cat runs/"$1"/logs/cache-group*-rank*.log | awk '/images through the backbone/ { s += $4 } END { print s + 0 }'; }
train_tables() { grep -l '^split: train$' runs/"$1"/cache/*/about.txt | wc -l; }
same_results() {  # SWEEP_A SWEEP_B TRIAL
    cmp -s <(untimed runs/$1/$3/result.csv) <(untimed runs/$2/$3/result.csv) &&
        cmp -s <(untimed runs/$1/$3/train_log.csv) <(untimed runs/$2/$3/train_log.csv)
}
trials="dropout-0.2_seed-42 dropout-0.2_seed-43 dropout-0.6_seed-42 dropout-0.6_seed-43"

# --- one pool for both seeds
write_sweep shared "{views: 2}"
dry=$("$SWEEP_BIN" shared.yaml --runs runs --dry-run 2>&1); rc=$?
echo "$dry" | grep -E '^(phase|feature cache)'
check_eval "dry run exits 0" "[ $rc -eq 0 ]"
check_eval "dry run: 1 group" "grep -q '4 trials; 1 feature cache group$' <<< \"\$dry\""
check_eval "dry run: passes of one pool, validation and test once" \
    "grep -q '^phase 1: 1 feature cache group, 260 backbone passes: 200 training (2 views of 100 images in 1 pool), 30 validation, 30 test$' <<< \"\$dry\""
check_eval "dry run: bytes on disk (4 tables of one chunk: 64-byte header + rows x 2048 x 4)" \
    "grep -q '^feature cache: 2.0 MiB on disk (fp32), 2.0 MiB of it to write, in $work/runs/shared/cache; limit' <<< \"\$dry\""
check_eval "dry run: an estimate from a measurement" "grep -Eq '^phase 1 estimate: [0-9.ms]+ \(1 backbone start of .* images/s; measured here: 3 batches of 32 at 32x32 on cpu' <<< \"\$dry\""
check_eval "dry run: phase 2" "grep -q '^phase 2: 4 trials, at most 12 epochs$' <<< \"\$dry\""
check_eval "dry run ran nothing" "[ ! -e runs/shared/cache ]"
out=$(mpi2 "$SWEEP_BIN" shared.yaml --runs runs 2>&1); rc=$?
check_eval "shared sweep exits 0" "[ $rc -eq 0 ]"
line_of() { grep -n -m1 "$1" <<< "$out" | cut -d: -f1; }
check_eval "the run's first lines state the cost, before phase 1 starts" \
    "[ -n \"\$(line_of '^\[shared\] phase 1: 1 feature cache group, 260 backbone passes')\" ] &&
     [ \$(line_of '^\[shared\] phase 1: 1 feature cache group') -lt \$(line_of 'phase 1: backbone features, cache group 1') ]"
check_eval "phase 1 computed what the dry run said (260 = $(computed shared))" "[ \$(computed shared) -eq \$(planned \"\$dry\") ]"
check_eval "exactly one pool: 2 training tables" "[ \$(train_tables shared) -eq 2 ]"
check_eval "the time phase 1 took, next to the estimate" "grep -Eq '^\[shared\] phase 1 done in [0-9.ms]+ \(estimate [0-9.ms]+\)$' <<< \"\$out\""
check_eval "report.md: the cost and the time phase 1 took" \
    "grep -q '^## Cost' runs/shared/report.md && grep -q '^phase 1: 1 feature cache group, 260 backbone passes' runs/shared/report.md && grep -q '^phase 1 took ' runs/shared/report.md"
check_eval "each seed draws its own head, shuffle and views from the pool" \
    "! cmp -s <(untimed runs/shared/dropout-0.2_seed-42/train_log.csv) <(untimed runs/shared/dropout-0.2_seed-43/train_log.csv)"
dry=$("$SWEEP_BIN" shared.yaml --runs runs --dry-run 2>&1)
check_eval "after the run: nothing left to compute" "grep -q '^phase 1: nothing to compute' <<< \"\$dry\""

# --- the same pool built by hand, then the sweep on it
cat > hand.yaml <<YAML
data: {root: $work/data, image_size: 32}
model: {weights: "random:1"}
train: {seed: 1234}
feature_cache: {dir: $work/handcache, views: 2}
YAML
check "trainer cache-features builds the pool by hand" "$TRAINER" cache-features hand.yaml --shard 0/1 --threads 1
write_sweep byhand "{dir: $work/handcache, views: 2}"
dry=$("$SWEEP_BIN" byhand.yaml --runs runs --dry-run 2>&1)
check_eval "dry run on the hand-built pool: 0 passes" "grep -q 'phase 1: 1 feature cache group, 0 backbone passes (260 of the 260 cached already)' <<< \"\$dry\""
out=$(mpi2 "$SWEEP_BIN" byhand.yaml --runs runs 2>&1); rc=$?
check_eval "sweep on the hand-built pool exits 0" "[ $rc -eq 0 ]"
check_eval "phase 1 computed nothing" "[ \$(computed byhand) -eq 0 ]"
for t in $trials; do check "$t: the results of the sweep that built its own pool" same_results shared byhand $t; done

# --- a pool per seed
write_sweep perseed "{views: 2, seed: trial}"
dry=$("$SWEEP_BIN" perseed.yaml --runs runs --dry-run 2>&1)
check_eval "seed: trial: 2 groups, twice the training passes" \
    "grep -q '^phase 1: 2 feature cache groups, 460 backbone passes: 400 training (4 views of 100 images in 2 pools), 30 validation, 30 test$' <<< \"\$dry\""
out=$(mpi2 "$SWEEP_BIN" perseed.yaml --runs runs 2>&1); rc=$?
check_eval "per-seed sweep exits 0" "[ $rc -eq 0 ]"
check_eval "phase 1 computed what the dry run said (460 = $(computed perseed))" "[ \$(computed perseed) -eq \$(planned \"\$dry\") ]"
check_eval "two pools: 4 training tables" "[ \$(train_tables perseed) -eq 4 ]"
for t in dropout-0.2_seed-42 dropout-0.6_seed-42; do check "$t: seed 42's own pool is the shared one" same_results shared perseed $t; done
check_eval "seed 43's own pool gives other numbers" "! same_results shared perseed dropout-0.2_seed-43"

# --- a cache over its limit is refused before any work
write_sweep tight "{views: 2, max_gib: 0.001}"
dry=$("$SWEEP_BIN" tight.yaml --runs runs --dry-run 2>&1); rc=$?
check_eval "dry run over max_gib: exit 2 with the figures" \
    "[ $rc -eq 2 ] && grep -q 'the feature cache would not fit: it needs 2.0 MiB in $work/runs/tight/cache (2.0 MiB still to write), more than feature_cache.max_gib 0.001 (1.0 MiB)' <<< \"\$dry\""
out=$(mpi2 "$SWEEP_BIN" tight.yaml --runs runs 2>&1); rc=$?
check_eval "run over max_gib: exit 2, the same message" "[ $rc -eq 2 ] && grep -q 'the feature cache would not fit' <<< \"\$out\""
check_eval "nothing was computed or trained" "[ -z \"\$(ls runs/tight/cache)\" ] && [ -z \"\$(ls runs/tight/*/result.csv 2> /dev/null)\" ]"

# --- fp16 chunks
fp_trial() {  # NAME DTYPE CACHE
    cat > "$1.yaml" <<YAML
data: {root: $work/data, image_size: 32}
model: {weights: "random:1", head: {hidden: 32}}
train: {epochs: 3, batch_size: 32, seed: 5}
feature_cache: {dir: $work/$3, views: 2, dtype: $2}
YAML
    "$TRAINER" train "$1.yaml" --out "fp/$1" --quiet --threads 2
}
check "fp32 trial" fp_trial f32 fp32 c32
check "fp16 trial (computes)" fp_trial f16 fp16 c16
check "fp16 trial (reads)" fp_trial f16again fp16 c16
check_eval "fp16 chunks: .f16 files, 64 + rows x 2048 x 2 bytes" \
    "[ \"\$(stat -c %s c16/*/chunk-00000.f16 | sort -n | uniq | paste -sd' ')\" = '$((64 + 30 * 4096)) $((64 + 100 * 4096))' ]"
check_eval "the reading trial repeats the computing one's numbers" \
    "cmp -s <(untimed fp/f16/train_log.csv) <(untimed fp/f16again/train_log.csv)"
check_eval "fp16 results within 1% of float32's (val_loss at every epoch)" \
    "paste -d, <(untimed fp/f32/train_log.csv) <(untimed fp/f16/train_log.csv) | awk -F, 'NR > 1 { d = \$6 - \$12; if (d < 0) d = -d; if (d > 0.01 * \$6) bad = 1 } END { exit bad }'"

checks_end
