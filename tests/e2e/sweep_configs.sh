#!/usr/bin/env bash
# Every sweep in configs/ validates (sweep --dry-run: every key of every expanded trial)
# and expands to the trials its comments promise. The data folders and the weight file
# are stand-ins made here: the dry run checks only that they exist.
set -uo pipefail
: "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
work=$(mktemp -d /tmp/e2e_sweep_configs.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p data/cars/train data/fashion/train data/fashion-1200/train weights
: > weights/resnet50_notop.h5
: > weights/demo_backbone.h5
: > weights/demo_source_init.h5
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

expect() {  # NAME TRIALS CACHE_GROUPS
    local out rc
    out=$("$SWEEP_BIN" "$TL_SOURCE_DIR/configs/$1.yaml" --dry-run 2>&1); rc=$?
    check_eval "$1.yaml validates" "[ $rc -eq 0 ]"
    [ $rc -eq 0 ] || echo "$out"
    check_eval "$1.yaml: $2 trials, $3 cache groups" "grep -q ': $2 trials; $3 feature cache group' <<< \"\$out\""
    check_eval "$1.yaml ran nothing" "[ ! -e runs ]"
}
# One pool of cached views for every train.seed (feature_cache.seed): seeds add no group.
expect demo 8 2
expect dropout 12 1
expect l2 15 1
expect augment 12 4
expect batch 12 1
expect lr_schedule 10 1
expect finetune 9 1
expect demo_finetune 6 1
expect demo_transfer 10 2
# feature_cache.seed: trial gives each seed its own pool again.
sed 's/feature_cache: {views: 8}/feature_cache: {views: 8, seed: trial}/' "$TL_SOURCE_DIR/configs/dropout.yaml" > per_seed.yaml
out=$("$SWEEP_BIN" per_seed.yaml --dry-run 2>&1)
check_eval "dropout.yaml with feature_cache.seed: trial: 3 cache groups" "grep -q ': 12 trials; 3 feature cache groups' <<< \"\$out\""
out=$("$SWEEP_BIN" "$TL_SOURCE_DIR/configs/batch.yaml" --dry-run)
ft=$("$SWEEP_BIN" "$TL_SOURCE_DIR/configs/finetune.yaml" --dry-run)
check_eval "finetune.yaml zips trainable with backbone_lr" "grep -q 'seed-42_trainable-conv5_backbone_lr-1e-4' <<< \"\$ft\" && ! grep -q 'trainable-conv5_backbone_lr-1e-5' <<< \"\$ft\""
check_eval "batch.yaml zips batch size with lr" "grep -q 'seed-42_batch_size-64_lr-2e-3' <<< \"\$out\" && ! grep -q 'batch_size-64_lr-1e-3' <<< \"\$out\""
# configs/demo_source.yaml is a trial config (trainer train), run by bn_train_export.sh.
check_eval "every sweep in configs/ is checked here" "[ \$(ls '$TL_SOURCE_DIR'/configs/*.yaml | grep -vc demo_source.yaml) -eq 9 ]"
tr=$("$SWEEP_BIN" "$TL_SOURCE_DIR/configs/demo_transfer.yaml" --dry-run)
check_eval "demo_transfer.yaml: random and trained head, conv5, all with BN training from both" \
  "grep -q 'seed-42_weights-weights-demo_source_init.h5_trainable-head_backbone_bn-frozen' <<< \"\$tr\" &&
   grep -q 'weights-weights-demo_backbone.h5_trainable-all_backbone_bn-train_backbone_lr-1e-4' <<< \"\$tr\" &&
   grep -q 'weights-weights-demo_source_init.h5_trainable-all_backbone_bn-train' <<< \"\$tr\""
# The demo falls back to random weights without the ImageNet file, and says so.
rm weights/resnet50_notop.h5
out=$("$SWEEP_BIN" "$TL_SOURCE_DIR/configs/demo.yaml" --dry-run 2>&1)
check_eval "demo without weights: weights_fallback random:1" "grep -q 'weights_fallback random:1' <<< \"\$out\""
out=$("$SWEEP_BIN" "$TL_SOURCE_DIR/configs/dropout.yaml" --dry-run 2>&1); rc=$?
check_eval "a Cars sweep without weights fails up front" "[ $rc -eq 2 ] && grep -q 'dropout.yaml:.*model.weights .* not found' <<< \"\$out\""

checks_end
