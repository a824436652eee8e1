# Optimisation history of a random or tpe sweep: the trials in the order they were drawn
# (summary.csv's order) with their best val accuracy, and the best so far among the
# finished ones.
#   awk -f plots/csv.awk -f plots/history.awk summary.csv
# Output: "k,val_accuracy,best_so_far,pruned" per trial with a val accuracy (k = its number
# from 1; pruned 1 for a trial stopped early, whose value is its best before the stop).
NR == 1 { csv_header($0, col); next }
{
    csv_split($0, f)
    k++
    st = f[col["status"]]; v = f[col["val_accuracy"]]
    if ((st != "done" && st != "pruned") || !is_number(v)) next
    if (st == "done" && (!seen++ || v + 0 > best)) best = v + 0
    printf "%d,%s,%s,%d\n", k, v, seen ? best : "NaN", st == "pruned"
}
