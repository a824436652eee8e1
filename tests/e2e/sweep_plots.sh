#!/usr/bin/env bash
# make plots on made-up sweeps (no training): every chart exists and is a non-empty PNG,
# for a grid (category axes), a random search (numeric log axis), a failed trial and a
# sweep with no finished trial; the cross-sweep chart covers all of them. A dropout x L2 x
# seed grid with pruned trials and a tpe sweep over two numeric axes add the heatmaps per
# pair of axes, parallel coordinates, importance and the optimisation history; the numbers
# behind the heatmap and the importance are checked against values computed here.
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

# A dropout x L2 x seed grid: val accuracy falls with dropout away from 0.4 and rises with
# L2; the gap shrinks with both; the seed adds +-0.005. Two trials were pruned at epoch 3.
dl2="$runs/dropl2"
mkdir -p "$dl2"
echo "trial,model.head.dropout,model.head.l2,train.seed,${header#trial,}" > "$dl2/summary.csv"
for d in 0.2 0.4 0.6 0.8; do for l2 in 1e-4 5e-4 1e-3; do for s in 42 43; do
    id="dropout-${d}_l2-${l2}_seed-$s"
    fake_trial "$dl2" "$id" "$d" "$s" 0.001
    awk -F, -v id="$id" -v d="$d" -v l2="$l2" -v s="$s" 'BEGIN {
        va = 0.80 - (d - 0.4) * (d - 0.4) + 20 * l2 + (s == 42 ? 0.005 : -0.005)
        gap = 0.25 - 0.05 * d - 150 * l2
        st = (d == 0.8 && l2 == 1e-4) ? "pruned" : "done"; ep = st == "pruned" ? 3 : 12
        printf "%s,%s,%s,%s,%s,%d,%d,0.5,%.4f,0.3,%.4f,%.4f,%.4f,0.1,0.5,0.7,0.9,18,1.5,\n", id, d, l2, s, st, ep, ep - 1, va, va + gap, gap, gap
    }' >> "$dl2/summary.csv"
done; done; done

# A tpe sweep over lr (log) and dropout: 24 trials in the order drawn, 3 pruned.
tpe="$runs/tpesearch"
mkdir -p "$tpe"
printf 'name: tpesearch\nsweep:\n  method: tpe\n  trials: 24\n  tpe: {startup_trials: 6}\n' > "$tpe/sweep.yaml"
echo "trial,train.lr,model.head.dropout,${header#trial,}" > "$tpe/summary.csv"
for k in $(seq 1 24); do
    awk -v k="$k" 'BEGIN { srand(k); lr = exp(log(1e-4) + rand() * log(100)); if (k > 6) lr = 1e-3 * exp((rand() - 0.5) * 2)
        d = k > 6 ? 0.3 + 0.2 * (rand() - 0.5) : rand(); q = log(lr / 1e-3); va = 0.8 - 0.02 * q * q - 0.2 * (d - 0.3) ^ 2
        st = (k == 3 || k == 5 || k == 11) ? "pruned" : "done"
        gap = 0.05 + 0.2 * (0.6 - d)
        printf "t%d,%.4g,%.4g,%s,12,8,0.5,%.4f,0.3,%.4f,%.4f,%.4f,0.1,0.5,0.7,0.9,18,1.5,\n", k, lr, d, st, va, va + gap, gap, gap }' >> "$tpe/summary.csv"
done

out=$("$src/scripts/render-plots" "$grid" "$rnd" "$empty" "$dl2" "$tpe" 2>&1); rc=$?
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
for f in heatmap_val_accuracy_model.head.dropout_x_model.head.l2 heatmap_gap_model.head.dropout_x_model.head.l2 \
         parallel_coordinates importance; do
    check_eval "dropl2/plots/$f.png is a PNG" "png_ok '$dl2/plots/$f.png'"
done
check_eval "no heatmap over the seed axis" "! ls '$dl2/plots/' | grep -q 'heatmap.*seed'"
check_eval "no optimisation history for a grid" "[ ! -e '$dl2/plots/history.png' ]"
for f in heatmap_val_accuracy_train.lr_x_model.head.dropout heatmap_gap_train.lr_x_model.head.dropout parallel_coordinates \
         importance history; do
    check_eval "tpesearch/plots/$f.png is a PNG" "png_ok '$tpe/plots/$f.png'"
done
check_eval "cross-sweep chart" "png_ok '$runs/plots/gap_vs_val_accuracy_all_sweeps.png'"
# The numbers behind the charts: cell (dropout 0.4, l2 5e-4) is the mean of seeds 42 and 43;
# the pruned cell (0.8, 1e-4) holds no finished trial; dropout explains more of the val
# accuracy than L2, the seed least; L2 more of the gap than dropout.
filters="-f $src/plots/csv.awk -f $src/plots/axis_bins.awk"
cells=$(awk -v ax=model.head.dropout -v ay=model.head.l2 -v metric=val_accuracy -v mode=cells $filters -f "$src/plots/heatmap.awk" "$dl2/summary.csv" "$dl2/summary.csv")
check_eval "heatmap: 11 cells (the pruned one is empty)" "[ \$(wc -l <<< \"\$cells\") -eq 11 ]"
check_eval "heatmap cell (0.4, 5e-4) = 0.81 over 2 seeds" "grep -q '^1,1,0.81,2$' <<< \"\$cells\""
imp=$(awk $filters -f "$src/plots/importance.awk" "$dl2/summary.csv" "$dl2/summary.csv")
echo "$imp"
share() { awk -F, -v a="$1" -v c="$2" '$1 == a { print $c }' <<< "$imp"; }
check_eval "importance: dropout > l2 > seed for val accuracy" \
    "awk -v d=$(share model.head.dropout 2) -v l=$(share model.head.l2 2) -v s=$(share train.seed 2) 'BEGIN { exit !(d > l && l > s) }'"
check_eval "importance: l2 > dropout for the gap" \
    "awk -v d=$(share model.head.dropout 3) -v l=$(share model.head.l2 3) 'BEGIN { exit !(l > d) }'"
check_eval "no charts for a sweep without finished trials" "[ ! -e '$empty/plots/gap_vs_val_accuracy.png' ] && [ ! -e '$empty/plots/importance.png' ]"
check_eval "gnuplot said nothing alarming" "! grep -qiE 'warning|error' <<< \"\$out\""
groups=$(awk -v axis=model.head.dropout -v metric=gap -v mode=groups -f "$src/plots/csv.awk" -f "$src/plots/group_by.awk" "$grid/summary.csv")
check_eval "4 dropout groups of 2 trials each" "[ \$(awk -F, '\$8 == 2' <<< \"\$groups\" | wc -l) -eq 4 ]"
check_eval "failed trial left out of the means" "! grep -q ',0.9,' <<< \"\$groups\""
check_eval "render-plots without summary fails" "! '$src/scripts/render-plots' '$work/nothing' 2>/dev/null"

[ -n "${KEEP_PLOTS:-}" ] && cp -r "$runs" "$KEEP_PLOTS"
checks_end
