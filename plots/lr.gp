# Learning rate over epochs, one line per trial (log scale).
# gnuplot -e "plots='plots'; sweep='runs/x'; name='x'; trials='a b'; out='...png'" plots/lr.gp
load plots.'/style.gp'
n = words(trials)
set terminal pngcairo noenhanced size 1000, 520 font "sans,10"
set output out
set title sprintf("%s: learning rate per trial", name) font "sans,12"
set xlabel "epoch"
set ylabel "learning rate"
stats sweep.'/'.word(trials, 1).'/train_log.csv' using "epoch" nooutput
if (STATS_max <= 12) { set xtics 1 }
set logscale y
set format y "%.0e"
# The y range spans every trial's rates with a margin (a constant rate would otherwise
# make an empty log range).
lo = 1e30
hi = 0
do for [i = 1:n] {
    stats sweep.'/'.word(trials, i).'/train_log.csv' using "lr" nooutput
    lo = STATS_min < lo ? STATS_min : lo
    hi = STATS_max > hi ? STATS_max : hi
}
set yrange [lo / 3 : hi * 3]
if (n <= 30) { set key outside right top font "sans,8" } else { unset key; set title sprintf("%s: learning rate per trial (%d trials)", name, n) }
plot for [i = 1:n] sweep.'/'.word(trials, i).'/train_log.csv' using "epoch":"lr" with steps lw 1.5 dt 1 + (i > 8) title word(trials, i)
