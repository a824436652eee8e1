# Per-trial learning curves as small multiples: train vs val `metric` over epochs, the
# best epoch (result.csv best_epoch, counted like train_log.csv's epoch column) dashed;
# in a two-phase fine-tuning trial (train_phases.csv) the switch to fine-tuning dotted green.
# A pruned trial (statuses: one word per trial) is titled so, in red: its curves end where it was stopped.
# gnuplot -e "plots='plots'; sweep='runs/x'; name='x'; trials='a b'; best='3 5'; statuses='done pruned'; metric='accuracy'; out='...png'" plots/learning_curves.gp
load plots.'/style.gp'
n = words(trials)
cols = n < 4 ? n : (n <= 9 ? 3 : (n <= 16 ? 4 : (n <= 30 ? 5 : 6)))
rows = int((n + cols - 1) / cols)
set terminal pngcairo noenhanced size cols * 330, rows * 240 + 50 font "sans,9"
set output out
set xlabel "epoch" offset 0,0.5
set ylabel metric offset 1.5,0
set xrange [*:*]
set autoscale xfix
set offsets 0.15, 0.15, graph 0.02, 0
unset key   # the colours are named in the title: a key would cover the curves of small panels
phases = system(sprintf("ls '%s'/*/train_phases.csv 2>/dev/null | head -n 1", sweep)) ne "" ? "; dotted green: fine-tuning starts" : ""
set multiplot layout rows, cols title sprintf("%s: %s per trial, train (blue) vs val (orange); dashed: best epoch%s", name, metric, phases) font "sans,12"
do for [i = 1:n] {
    t = word(trials, i)
    b = word(best, i)
    f = sweep.'/'.t.'/train_log.csv'
    pruned = exists("statuses") && word(statuses, i) eq "pruned"
    # A panel is 330 px wide, about 48 characters at 8 pt: longer trial names wrap, so
    # neighbouring titles never run into each other.
    tt = strlen(t) <= 48 ? t : (strlen(t) <= 96 ? t[1:48]."\n".t[49:] : t[1:48]."\n".t[49:96]."\n".t[97:])
    if (pruned) { set title tt." (pruned)" font "sans,8" tc rgb "#c0392b" } else { set title tt font "sans,8" tc default }
    unset arrow 1
    unset arrow 2
    if (b ne "NaN") { set arrow 1 from b + 0, graph 0 to b + 0, graph 1 nohead dt 2 lw 1.5 lc rgb "#555555" }
    # First fine-tuning epoch after a head phase: the line sits half an epoch before it.
    ft = system(sprintf("awk -F, '$2 ~ /^head/ {h = 1} $2 ~ /^finetune/ && h {print $1; exit}' '%s/%s/train_phases.csv' 2>/dev/null", sweep, t))
    if (ft ne "") { set arrow 2 from ft - 0.5, graph 0 to ft - 0.5, graph 1 nohead dt 3 lw 2 lc rgb "#2ca02c" }
    set autoscale y   # (a y range would filter the one-column stats below)
    stats f using "epoch" nooutput
    if (STATS_max <= 12) { set xtics 1 } else { set xtics autofreq }
    if (metric eq "accuracy") { set yrange [0:1] } else { set yrange [0:*] }
    plot f using "epoch":metric with linespoints pt 7 ps 0.4 lw 2 lc rgb TRAIN title "train", \
         f using "epoch":"val_".metric with linespoints pt 7 ps 0.4 lw 2 lc rgb VAL title "val"
}
unset multiplot
