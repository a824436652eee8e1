# Per-class accuracy of one trial on one split: one horizontal bar per class, the best at
# the top, with "correct/images" beside each bar and the overall top-1 as a dashed line.
# Drawn by `trainer evaluate --plots`, or by hand:
#   gnuplot -e "csv='RUN/per_class_test.csv'; out='RUN/per_class_accuracy_test.png'; title='...'; overall=0.8" \
#           plots/per_class_accuracy.gp
# csv: class,images,correct,accuracy, worst class first (the order trainer evaluate writes);
# class names may be quoted CSV fields. The image grows with the class count (16 px a row).
set encoding utf8
set datafile separator ","
set termoption noenhanced
stats csv skip 1 using 4 nooutput
n = STATS_records
h = n * 16 + 150
if (h < 320) h = 320
set terminal pngcairo noenhanced size 960, h font "sans,9"
set output out
set title title font "sans,11"
set xlabel "accuracy (correct / images)"
set xrange [0:1.15]
set xtics 0, 0.1, 1 format "%.1f"
set yrange [-0.7:n - 0.3]
set ytics scale 0 font "sans,8"
set grid xtics lc rgb "#dddddd" lw 1
set border 3 lc rgb "#444444"
set tics nomirror
unset key
set style fill solid 0.85 noborder
set arrow 1 from overall, graph 0 to overall, graph 1 nohead dt 2 lw 1.5 lc rgb "#d62728"
set tmargin 4.5
set label 1 sprintf("overall %.3f", overall) at overall, graph 1 offset 0, 0.7 center tc rgb "#d62728" font "sans,8"
bar(a) = a < overall ? 0xe6550d : 0x3182bd
plot csv skip 1 using (column(4) / 2):0:(0):4:($0 - 0.38):($0 + 0.38):(bar(column(4))):ytic(1) \
         with boxxyerror lc rgb variable, \
     "" skip 1 using 4:0:(sprintf(" %d/%d", column(3), column(2))) with labels left font "sans,7" tc rgb "#333333"
