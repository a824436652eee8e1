# One summary metric against one swept axis: every finished trial as a dot, and per axis
# value the mean with +-1 sd bars (the spread over seeds and the other axes).
# gnuplot -e "plots='plots'; summary='runs/x/summary.csv'; name='x'; axis='model.head.dropout'; metric='gap';
#             ylabel='...'; scale='cat|lin|log'; out='...png'" plots/axis_metric.gp
load plots.'/style.gp'
set terminal pngcairo noenhanced size 760, 480 font "sans,10"
set output out
awk = sprintf("< awk -v axis='%s' -v metric='%s' -f '%s/csv.awk' -f '%s/group_by.awk'", axis, metric, plots, plots)
groups = sprintf("%s -v mode=groups '%s'", awk, summary)
points = sprintf("%s -v mode=points '%s'", awk, summary)
set title sprintf("%s: %s vs %s", name, ylabel, axis) font "sans,12"
set xlabel axis
set ylabel ylabel
set key outside top center horizontal
if (metric eq "gap") { set arrow 1 from graph 0, first 0 to graph 1, first 0 nohead lc rgb "#888888" dt 3 }
if (metric eq "val_accuracy") { set yrange [*:*] }
if (scale eq "cat") {
    stats groups using 1 nooutput
    set xrange [-0.5 : STATS_max + 0.5]
    set offsets 0, 0, graph 0.05, graph 0.05
    plot points using 1:3 with points pt 7 ps 0.7 lc rgb DOTS title "trial", \
         groups using 1:4 with lines lw 2 lc rgb MEAN notitle, \
         groups using 1:4:5:xticlabels(2) with yerrorbars pt 7 ps 1.3 lw 2 lc rgb MEAN title "mean ± sd"
} else {
    if (scale eq "log") { set logscale x; set format x "%.0e" }
    set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05
    plot points using 2:3 with points pt 7 ps 0.9 lc rgb MEAN title "trial"
}
