# Shared look of every chart (loaded first by each script). Every data source is CSV:
# the files themselves, or the awk filters in plots/ (which print CSV too). Text is not "enhanced":
# trial ids and axis names hold underscores that would otherwise become subscripts.
set encoding utf8
set datafile separator ","
set termoption noenhanced
set grid lc rgb "#dddddd" lw 1
set border lc rgb "#444444"
set key box lc rgb "#bbbbbb" opaque samplen 2
TRAIN = "#1f77b4"
VAL = "#ff7f0e"
MEAN = "#08519c"
DOTS = "#9ecae1"
