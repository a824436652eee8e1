# Overfitting map: train-val gap against val accuracy, one point per finished trial.
# One sweep (labels when few trials) or every sweep under runs/ (one colour each).
# gnuplot -e "plots='plots'; summaries='a/summary.csv b/summary.csv'; names='a b'; title='...'; out='...png'" plots/gap_vs_val_accuracy.gp
load plots.'/style.gp'
n = words(summaries)
set terminal pngcairo noenhanced size 820, 560 font "sans,10"
set output out
set title title font "sans,12"
set xlabel "best val accuracy (higher is better)"
set ylabel "train - val accuracy at the best epoch (lower is better)"
set arrow 1 from graph 0, first 0 to graph 1, first 0 nohead lc rgb "#888888" dt 3
set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.08
set key outside right top
cols(s) = sprintf("< awk -v cols=val_accuracy,gap,trial -v status=done -f '%s/csv.awk' -f '%s/columns.awk' '%s'", plots, plots, s)
if (n == 1) {
    unset key
    stats cols(word(summaries, 1)) using 1 nooutput
    if (STATS_records <= 16) {
        plot cols(word(summaries, 1)) using 1:2 with points pt 7 ps 1.2 lc rgb MEAN title word(names, 1), \
             "" using 1:2:3 with labels font "sans,7" offset 0,0.8 notitle
    } else {
        plot cols(word(summaries, 1)) using 1:2 with points pt 7 ps 1 lc rgb MEAN title word(names, 1)
    }
} else {
    plot for [i = 1:n] cols(word(summaries, i)) using 1:2 with points pt (4 + (i - 1) % 8) ps 1.2 lw 2 title word(names, i)
}
