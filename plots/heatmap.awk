# One metric over two swept axes: the mean over the finished trials in each cell (seeds and
# every other axis averaged). Reads summary.csv twice (values, then cells):
#   awk -v ax=model.head.dropout -v ay=model.head.l2 -v metric=gap -v mode=cells|xtics|ytics \
#       -f plots/csv.awk -f plots/axis_bins.awk -f plots/heatmap.awk summary.csv summary.csv
# cells: "ix,iy,mean,n" per cell holding a finished trial; empty: "ix,iy,pruned" per cell
# whose trials were all pruned; xtics/ytics: a gnuplot tic list ("a" 0, "b" 1); size: "nx ny".
# The axes' values come from the finished and the pruned trials.
FNR == 1 {
    csv_header($0, col)
    if (!(ax in col) || !(ay in col) || !(metric in col)) { printf "heatmap.awk: no column '%s', '%s' or '%s'\n", ax, ay, metric > "/dev/stderr"; exit 1 }
    if (NR != FNR) { ax_finish(ax); ax_finish(ay) }
    next
}
{
    csv_split($0, f)
    st = f[col["status"]]
    done = st == "done" && is_number(f[col[metric]])
    if (!done && st != "pruned") next
    if (NR == FNR) { ax_add(ax, f[col[ax]]); ax_add(ay, f[col[ay]]); next }
    i = ax_bin(ax, f[col[ax]]); j = ax_bin(ay, f[col[ay]])
    if (done) { n[i, j]++; sum[i, j] += f[col[metric]] }
    else pruned[i, j]++
}
function tics(a,    i, s) {
    for (i = 0; i < ax_nbins(a); i++) s = s (i ? ", " : "") sprintf("\"%s\" %d", ax_label(a, i, "-\\n"), i)
    return "(" s ")"
}
END {
    if (mode == "xtics") { print tics(ax); exit }
    if (mode == "ytics") { print tics(ay); exit }
    if (mode == "size") { print ax_nbins(ax), ax_nbins(ay); exit }
    for (i = 0; i < ax_nbins(ax); i++)
        for (j = 0; j < ax_nbins(ay); j++) {
            if (mode == "cells" && (i, j) in n) printf "%d,%d,%.6g,%d\n", i, j, sum[i, j] / n[i, j], n[i, j]
            if (mode == "empty" && !((i, j) in n) && (i, j) in pruned) printf "%d,%d,%d\n", i, j, pruned[i, j]
        }
}
