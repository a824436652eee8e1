# Parallel coordinates: one line per trial across the swept axes and the val accuracy,
# coloured by val accuracy; pruned trials (stopped early, their best so far) dashed.
# gnuplot -e "plots='plots'; summary='runs/x/summary.csv'; name='x'; out='...png'" plots/parallel_coordinates.gp
load plots.'/style.gp'
awk = sprintf("awk -f '%s/csv.awk' -f '%s/axis_bins.awk' -f '%s/parallel.awk'", plots, plots, plots)
both = sprintf(" '%s' '%s'", summary, summary)
xt = system(awk." -v mode=xtics".both)
counts = system(awk." -v mode=count".both." | tr , ' '")
n_pruned = int(word(counts, 2))
n_axes = int(word(counts, 3))
set terminal pngcairo noenhanced size 260 + 170 * (n_axes < 3 ? 3 : n_axes), 560 font "sans,10"
set output out
set title sprintf("%s: every trial across the swept axes, coloured by its best val accuracy%s", name, \
                  n_pruned > 0 ? "\ndashed: pruned trials (stopped early; their best before the stop)" : "") font "sans,11"
eval "set xtics ".xt
set xtics nomirror scale 0 offset 0, -0.3
unset ytics
unset grid
unset border
set xrange [-0.35 : n_axes - 1 + 0.35]
set yrange [-0.06 : 1.06]
do for [i = 0 : n_axes - 1] { set arrow from i, 0 to i, 1 nohead lw 1.5 lc rgb "#444444" back }
stats sprintf("< %s -v mode=lines -v which=done %s", awk, both) using 3 nooutput
set cbrange [STATS_min : STATS_max > STATS_min ? STATS_max : STATS_min + 0.001]
set style textbox opaque noborder margins 1, 1
set palette defined (0 "#440154", 0.35 "#3b528b", 0.65 "#21918c", 0.85 "#5ec962", 1 "#fde725")
set cblabel "best val accuracy"
set format cb "%.3f"
set key off
lines(w) = sprintf("< %s -v mode=lines -v which=%s %s", awk, w, both)
ticks = sprintf("< %s -v mode=ticks %s", awk, both)
if (n_pruned > 0) {
    plot lines("done") using 1:2:3 with lines lw 1.6 lc palette notitle, \
         lines("pruned") using 1:2:3 with lines lw 2 dt (10, 6) lc palette notitle, \
         ticks using ($1 + 0.04):2:3 with labels left boxed font "sans,8" tc rgb "#222222" notitle
} else {
    plot lines("done") using 1:2:3 with lines lw 1.6 lc palette notitle, \
         ticks using ($1 + 0.04):2:3 with labels left boxed font "sans,8" tc rgb "#222222" notitle
}
