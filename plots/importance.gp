# Hyperparameter importance: per swept axis, the share of the variance of the best val
# accuracy and of the train-val gap that the axis explains alone (plots/importance.awk).
# gnuplot -e "plots='plots'; summary='runs/x/summary.csv'; name='x'; out='...png'" plots/importance.gp
load plots.'/style.gp'
data = sprintf("< awk -f '%s/csv.awk' -f '%s/axis_bins.awk' -f '%s/importance.awk' '%s' '%s'", plots, plots, plots, summary, summary)
stats data using 2 nooutput
n = STATS_records
set terminal pngcairo noenhanced size 400 + 130 * (n < 3 ? 3 : n), 500 font "sans,10"
set output out
set title sprintf("%s: share of the variance each axis explains alone (finished trials)\nmain effects of an additive model, less what noise would explain; not shown: interactions, noise", name) font "sans,10"
set ylabel "share of variance explained"
set yrange [0:1.05]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics nomirror scale 0
set key top right
plot data using 2:xtic(1) lc rgb VAL title "best val accuracy", \
     "" using 3 lc rgb TRAIN title "train - val gap", \
     "" using ($0 - 0.17):($2 + 0.03):(sprintf("%.2f", $2)) with labels font "sans,8" notitle, \
     "" using ($0 + 0.17):($3 + 0.03):(sprintf("%.2f", $3)) with labels font "sans,8" notitle
