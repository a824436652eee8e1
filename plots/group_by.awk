# Groups the finished trials of a summary.csv by one axis and summarises a metric.
#   awk -v axis=model.head.dropout -v metric=gap -v mode=groups|points|info -f plots/csv.awk -f plots/group_by.awk summary.csv
# Output is CSV.
# groups: "pos,label,x,mean,sd,min,max,n" per axis value (sd over the trials sharing the
#         value: seeds and every other axis), sorted by value when all values are numbers
# points: "pos,x,y" per trial
# info:   "numeric,distinct,min,max" about the axis values
# pos is the value's rank (0, 1, ...) for category charts; x is the value itself when numeric.
NR == 1 {
    csv_header($0, col)
    if (!(axis in col) || !(metric in col)) { printf "group_by.awk: no column '%s' or '%s'\n", axis, metric > "/dev/stderr"; exit 1 }
    next
}
{
    csv_split($0, f)
    if (f[col["status"]] != "done" || !is_number(f[col[metric]])) next
    v = f[col[axis]]; y = f[col[metric]] + 0
    if (!(v in count)) { order[++nv] = v; numeric_all = (nv == 1 ? 1 : numeric_all) && is_number(v) }
    count[v]++; sum[v] += y; sumsq[v] += y * y
    if (!(v in lo) || y < lo[v]) lo[v] = y
    if (!(v in hi) || y > hi[v]) hi[v] = y
    pv[++np] = v; py[np] = y
}
END {
    if (nv == 0) { if (mode == "info") print "0,0,0,0"; exit }
    # insertion sort of the values (numerically when all are numbers)
    for (i = 2; i <= nv; i++) {
        t = order[i]
        for (j = i - 1; j >= 1 && (numeric_all ? order[j] + 0 > t + 0 : order[j] > t); j--) order[j + 1] = order[j]
        order[j + 1] = t
    }
    for (i = 1; i <= nv; i++) pos[order[i]] = i - 1
    if (mode == "info") { print numeric_all "," nv "," (numeric_all ? order[1] : 0) "," (numeric_all ? order[nv] : 0); exit }
    if (mode == "points") {
        for (i = 1; i <= np; i++) print pos[pv[i]] "," (numeric_all ? pv[i] : pos[pv[i]]) "," py[i]
        exit
    }
    for (i = 1; i <= nv; i++) {
        v = order[i]; n = count[v]; m = sum[v] / n
        var = n > 1 ? (sumsq[v] - n * m * m) / (n - 1) : 0
        if (var < 0) var = 0
        label = v; gsub(/[, ]/, "_", label)
        printf "%d,%s,%s,%.6g,%.6g,%.6g,%.6g,%d\n", i - 1, label, (numeric_all ? v : i - 1), m, sqrt(var), lo[v], hi[v], n
    }
}
