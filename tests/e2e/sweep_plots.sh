#!/usr/bin/env bash
# make plots on made-up sweeps (no training): every chart exists and is a non-empty PNG,
# for a grid (category axes), a random search (numeric log axis), a failed trial and a
# sweep with no finished trial; the cross-sweep chart covers all of them.
set -uo pipefail
src=${TL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d /tmp/sweep_plots.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"
command -v gnuplot >/dev/null || { echo "gnuplot missing: skipped"; exit 77; }

header="trial,status,epochs,best_epoch,val_loss,val_accuracy,train_loss,train_accuracy,gap,final_gap,untrained_val_accuracy,test_loss,test_accuracy,test_top5,seconds,seconds_per_epoch,message"

# fake_trial DIR ID DROPOUT SEED LR: train_log.csv shaped like a real one (plateau LR drops).
fake_trial() {
    mkdir -p "$1/$2"
    awk -v d="$3" -v s="$4" -v lr0="$5" 'BEGIN {
        print "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds"
        lr = lr0; srand(s)
        for (e = 0; e < 12; e++) {
            q = log(lr0 / 0.001); q = q * q
            tr = 0.95 - 0.6 * exp(-e / 2.5) - 0.25 * d - 0.04 * q + 0.01 * rand()
            va = 0.80 - 0.55 * exp(-e / 3.0) - 0.05 * (1 - d) * e / 12 - 0.1 * d * d - 0.05 * q + 0.01 * rand()
            if (e == 6 || e == 10) lr *= 0.2
            printf "%d,%.4f,%.4f,%.6g,%.4f,%.4f,%.2f\n", e, tr, 2.3 * (1 - tr) + 0.1, lr, va, 2.3 * (1 - va) + 0.2, 1.5
        }
    }' > "$1/$2/train_log.csv"
}

# summary row from a fake trial's log: best epoch = lowest val_loss.
summary_row() {  # DIR ID AXISVALUES...
    local dir=$1 id=$2; shift 2
    awk -F, -v id="$id" -v axes="$*" 'NR > 1 && (best == "" || $6 < bl) { best = $1; bl = $6; va = $5; ta = $2; tl = $3 }
        NR > 1 { last_gap = $2 - $5; n++ }
        END { gsub(/ /, ",", axes)
              printf "%s,%s,done,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,0.1,0.7,0.7,0.9,18,1.5,\n", id, axes, n, best, bl, va, tl, ta, ta - va, last_gap }' \
        "$dir/$id/train_log.csv"
}

runs="$work/runs"
grid="$runs/fix"
mkdir -p "$grid"
echo "trial,model.head.dropout,train.seed,${header#trial,}" > "$grid/summary.csv"
for d in 0.2 0.4 0.6 0.8; do for s in 42 43; do
    id="dropout-${d}_seed-$s"
    fake_trial "$grid" "$id" "$d" "$s" 0.001
    summary_row "$grid" "$id" "$d $s" >> "$grid/summary.csv"
done; done
echo "dropout-0.9_seed-42,0.9,42,failed,0,,,,,,,,,,,,3,,\"trainer ended with signal 9, killed\"" >> "$grid/summary.csv"

rnd="$runs/lrsearch"
mkdir -p "$rnd"
echo "trial,train.lr,${header#trial,}" > "$rnd/summary.csv"
for lr in 0.0001 0.00021 0.00043 0.0008 0.0012 0.0019 0.0031 0.0047 0.0068 0.0093; do
    id="lr-$lr"
    fake_trial "$rnd" "$id" 0.5 7 "$lr"
    summary_row "$rnd" "$id" "$lr" >> "$rnd/summary.csv"
done

empty="$runs/empty"
mkdir -p "$empty"
echo "trial,train.seed,${header#trial,}" > "$empty/summary.csv"
echo "seed-1,1,pending,,,,,,,,,,,,,,," >> "$empty/summary.csv"

out=$("$src/scripts/render-plots" "$grid" "$rnd" "$empty" 2>&1); rc=$?
echo "$out"
check_eval "render-plots exits 0" "[ $rc -eq 0 ]"
png_ok() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
for f in learning_curves_accuracy learning_curves_loss lr gap_vs_val_accuracy \
         gap_vs_model.head.dropout val_accuracy_vs_model.head.dropout gap_vs_train.seed val_accuracy_vs_train.seed; do
    check_eval "fix/plots/$f.png is a PNG" "png_ok '$grid/plots/$f.png'"
done
for f in learning_curves_accuracy lr gap_vs_train.lr val_accuracy_vs_train.lr gap_vs_val_accuracy; do
    check_eval "lrsearch/plots/$f.png is a PNG" "png_ok '$rnd/plots/$f.png'"
done
check_eval "cross-sweep chart" "png_ok '$runs/plots/gap_vs_val_accuracy_all_sweeps.png'"
check_eval "no charts for a sweep without finished trials" "[ ! -e '$empty/plots/gap_vs_val_accuracy.png' ]"
check_eval "gnuplot said nothing alarming" "! grep -qiE 'warning|error' <<< \"\$out\""
groups=$(awk -v axis=model.head.dropout -v metric=gap -v mode=groups -f "$src/plots/csv.awk" -f "$src/plots/group_by.awk" "$grid/summary.csv")
check_eval "4 dropout groups of 2 trials each" "[ \$(awk -F, '\$8 == 2' <<< \"\$groups\" | wc -l) -eq 4 ]"
check_eval "failed trial left out of the means" "! grep -q ',0.9,' <<< \"\$groups\""
check_eval "render-plots without summary fails" "! '$src/scripts/render-plots' '$work/nothing' 2>/dev/null"

[ -n "${KEEP_PLOTS:-}" ] && cp -r "$runs" "$KEEP_PLOTS"
checks_end
