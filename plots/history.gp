# Optimisation history (random and tpe sweeps): best val accuracy of every trial in the
# order drawn, pruned trials hollow, and the best so far; for tpe a line where the random
# startup trials end.
# gnuplot -e "plots='plots'; summary='runs/x/summary.csv'; name='x'; method='tpe'; startup='10'; out='...png'" plots/history.gp
load plots.'/style.gp'
set terminal pngcairo noenhanced size 820, 500 font "sans,10"
set output out
data = sprintf("< awk -f '%s/csv.awk' -f '%s/history.awk' '%s'", plots, plots, summary)
set title sprintf("%s (%s): best val accuracy per trial in the order drawn, and the best so far", name, method) font "sans,11"
set xlabel "trial (order drawn)"
set ylabel "best val accuracy"
set key bottom right
set offsets 0.5, 0.5, graph 0.05, graph 0.05
if (method eq "tpe" && startup + 0 > 0) {
    set arrow 1 from startup + 0.5, graph 0 to startup + 0.5, graph 1 nohead dt 2 lc rgb "#888888"
    set label 1 "random startup | TPE" at startup + 0.5, graph 0.97 center font "sans,8" tc rgb "#555555"
}
stats data using 4 nooutput
if (STATS_max > 0) {
    plot data using 1:($4 == 0 ? $2 : NaN) with points pt 7 ps 1.0 lc rgb MEAN title "finished trial", \
         data using 1:($4 == 1 ? $2 : NaN) with points pt 6 ps 1.0 lw 1.5 lc rgb VAL title "pruned (stopped early)", \
         data using 1:3 with steps lw 2 lc rgb "#2ca02c" title "best so far"
} else {
    plot data using 1:2 with points pt 7 ps 1.0 lc rgb MEAN title "finished trial", \
         data using 1:3 with steps lw 2 lc rgb "#2ca02c" title "best so far"
}
