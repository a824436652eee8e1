# Swept-axis values -> positions and bins, shared by heatmap.awk, importance.awk and
# parallel.awk (load after csv.awk). The same rule as the per-axis charts: an axis with text
# values or at most 8 distinct numbers is a category axis (one bin per value, numbers sorted
# numerically); one with more numbers (random search, tpe) is numeric and falls into 5
# equal-width bins, in log space when every value is > 0 and they span more than 20x.
#   ax_add(a, v) for every value first, then ax_finish(a); then
#   ax_nbins(a), ax_bin(a, v) (0-based), ax_label(a, i), ax_pos(a, v) (0..1 along the axis),
#   ax_tick(a, k) for k = 0, 1, 2 (numeric axes: the value at 0, 0.5, 1 of the axis).
function ax_add(a, v) {
    if ((a, v) in AX_seen) return
    AX_seen[a, v] = 1
    AX_n[a]++
    AX_val[a, AX_n[a]] = v
    if (!is_number(v)) AX_text[a] = 1
}
function ax_finish(a,    i, j, t, n, lo, hi) {
    n = AX_n[a]
    for (i = 2; i <= n; i++) {
        t = AX_val[a, i]
        for (j = i - 1; j >= 1 && (AX_text[a] ? AX_val[a, j] > t : AX_val[a, j] + 0 > t + 0); j--) AX_val[a, j + 1] = AX_val[a, j]
        AX_val[a, j + 1] = t
    }
    AX_cat[a] = AX_text[a] || n <= 8
    if (AX_cat[a]) {
        for (i = 1; i <= n; i++) AX_rank[a, AX_val[a, i]] = i - 1
        AX_bins[a] = n
        return
    }
    lo = AX_val[a, 1] + 0; hi = AX_val[a, n] + 0
    AX_log[a] = lo > 0 && hi / lo > 20
    AX_lo[a] = AX_log[a] ? log(lo) : lo
    AX_hi[a] = AX_log[a] ? log(hi) : hi
    AX_bins[a] = 5
}
function ax_nbins(a) { return AX_bins[a] }
function ax_pos(a, v) {
    if (AX_cat[a]) return AX_bins[a] > 1 ? AX_rank[a, v] / (AX_bins[a] - 1) : 0.5
    return ((AX_log[a] ? log(v) : v + 0) - AX_lo[a]) / (AX_hi[a] - AX_lo[a])
}
function ax_bin(a, v,    b) {
    if (AX_cat[a]) return AX_rank[a, v]
    b = int(ax_pos(a, v) * AX_bins[a])
    return b >= AX_bins[a] ? AX_bins[a] - 1 : b
}
function ax_at(a, f,    x) {
    x = AX_lo[a] + (AX_hi[a] - AX_lo[a]) * f
    return AX_log[a] ? exp(x) : x
}
# A bin's label; sep goes between a numeric bin's ends (gnuplot reads "\\n" as a line break).
function ax_label(a, i, sep,    l) {
    if (AX_cat[a]) { l = AX_val[a, i + 1]; gsub(/[",]/, "_", l); return l }
    return sprintf("%.2g%s%.2g", ax_at(a, i / AX_bins[a]), sep, ax_at(a, (i + 1) / AX_bins[a]))
}
function ax_tick(a, k) { return sprintf("%.3g", ax_at(a, k / 2)) }
# The axis columns of a summary.csv (header fields names[1..ncols]): those between "trial"
# and "status". Sets AXES[1..n]; returns n.
function summary_axes(names, ncols,    i, n) {
    n = 0
    for (i = 2; i <= ncols && names[i] != "status"; i++) AXES[++n] = names[i]
    return n
}
