# One metric over two swept axes as a heatmap: per cell the mean over the finished trials in
# it (seeds and the other axes averaged), written in the cell; numeric axes with many values
# fall into 5 bins (plots/axis_bins.awk).
# gnuplot -e "plots='plots'; summary='runs/x/summary.csv'; name='x'; ax='...'; ay='...'; metric='val_accuracy|gap'; out='...png'" plots/heatmap.gp
load plots.'/style.gp'
awk(mode) = sprintf("awk -v mode=%s -v ax='%s' -v ay='%s' -v metric='%s' -f '%s/csv.awk' -f '%s/axis_bins.awk' -f '%s/heatmap.awk' '%s' '%s'", \
                   mode, ax, ay, metric, plots, plots, plots, summary, summary)
cells = "< ".awk("cells")
empty = "< ".awk("empty")
n_empty = int(system(awk("empty")." | wc -l"))
xt = system(awk("xtics"))
yt = system(awk("ytics"))
size = system(awk("size"))
nx = int(word(size, 1))
ny = int(word(size, 2))
stats cells using 3:4 nooutput
lo = STATS_min_x
hi = STATS_max_x
same_n = STATS_min_y == STATS_max_y
per = same_n ? sprintf("; %d trial%s each", STATS_min_y, STATS_min_y == 1 ? "" : "s") : ""
set terminal pngcairo noenhanced size 240 + 110 * (nx < 4 ? 4 : nx), 200 + 70 * (ny < 3 ? 3 : ny) font "sans,10"
set output out
if (metric eq "gap") {
    what = "train - val accuracy gap at the best epoch (lower is better)"
    set palette defined (0 "#fff7bc", 0.5 "#fd8d3c", 1 "#a50f15")
} else {
    what = "best val accuracy (higher is better)"
    set palette defined (0 "#f7fcf5", 0.5 "#74c476", 1 "#00441b")
}
set title sprintf("%s: %s\nmean of the finished trials per cell (seeds, other axes)%s", name, what, per) font "sans,11"
set xlabel ax offset 0, -0.6
set ylabel ay
eval "set xtics ".xt
eval "set ytics ".yt
set xtics nomirror scale 0
set ytics nomirror scale 0
unset grid
unset key
set xrange [-0.5 : nx - 0.5]
set yrange [-0.5 : ny - 0.5]
if (hi > lo) { set cbrange [lo : hi] } else { set cbrange [lo - 0.01 : hi + 0.01] }
set cblabel metric
set format cb "%.3f"
dark(v) = hi > lo && (v - lo) / (hi - lo) > 0.55
lab(v, n) = same_n ? sprintf("%.3f", v) : sprintf("%.3f\n(n=%d)", v, n)
if (n_empty > 0) {
    plot cells using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder lc palette notitle, \
         cells using 1:2:(lab($3, $4)):(dark($3) ? 0xffffff : 0x111111) with labels tc rgb variable font "sans,10" notitle, \
         empty using 1:2:(0.5):(0.5) with boxxyerror fs pattern 4 lc rgb "#bbbbbb" notitle, \
         empty using 1:2:(sprintf("%d pruned", $3)) with labels font "sans,9" tc rgb "#555555" notitle
} else {
    plot cells using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder lc palette notitle, \
         cells using 1:2:(lab($3, $4)):(dark($3) ? 0xffffff : 0x111111) with labels tc rgb variable font "sans,10" notitle
}
