# Parallel coordinates of every trial with a val accuracy (done, or pruned: its best so far),
# from a summary.csv read twice (values, then trials):
#   awk -v mode=lines -v which=done|pruned -f plots/csv.awk -f plots/axis_bins.awk -f plots/parallel.awk summary.csv summary.csv
# lines:  per trial of status `which`, one "x,y,val_accuracy" point per swept axis (x = the
#         axis's index, y = the value's position 0..1 along it, category values spread by
#         up to +-0.02) and a last one on the val accuracy axis; a blank line between
#         trials (gnuplot draws each as one line); worst first.
# ticks:  "x,y,label" tick labels: every value of a category axis; low, middle and high of
#         a numeric one (log axes geometrically); the val accuracy's range.
# xtics:  a gnuplot tic list naming the axes by their last path component.
# count:  "done,pruned,axes": trials per status and the number of axes (val accuracy included).
FNR == 1 {
    ncols = csv_split($0, names)
    csv_header($0, col)
    n_axes = summary_axes(names, ncols)
    if (NR != FNR) { for (a = 1; a <= n_axes; a++) ax_finish(AXES[a]); span = hi > lo ? hi - lo : 1 }
    next
}
{
    csv_split($0, f)
    st = f[col["status"]]; v = f[col["val_accuracy"]]
    if ((st != "done" && st != "pruned") || !is_number(v)) next
    if (NR == FNR) {
        for (a = 1; a <= n_axes; a++) ax_add(AXES[a], f[col[AXES[a]]])
        if (nv++ == 0 || v + 0 < lo) lo = v + 0
        if (nv == 1 || v + 0 > hi) hi = v + 0
        count[st]++
        next
    }
    if (mode != "lines" || st != which) next
    # Trials sharing a category value are spread by up to +-0.02 (by row) so their lines
    # stay apart; drawn worst first, so the best lie on top.
    jit = ((FNR * 7) % 11 - 5) * 0.004
    line = ""
    for (a = 1; a <= n_axes; a++) line = line sprintf("%d,%.6g,%s\n", a - 1, spread(AXES[a], ax_pos(AXES[a], f[col[AXES[a]]]), jit), v)
    out[++n_out] = line sprintf("%d,%.6g,%s\n", n_axes, (v - lo) / span, v)
    key[n_out] = v + 0
}
# A category value's position moved by jit, inwards at the axis's ends.
function spread(a, y, jit) {
    if (!AX_cat[a]) return y
    if (y <= 0) return jit < 0 ? -jit : jit
    if (y >= 1) return 1 - (jit < 0 ? -jit : jit)
    return y + jit
}
function short(p,    parts, k, i, j, clash) {
    k = split(p, parts, ".")
    clash = 0
    for (j = 1; j <= n_axes; j++) if (AXES[j] != p && AXES[j] ~ ("\\." parts[k] "$")) clash = 1
    return clash ? p : parts[k]
}
END {
    if (mode == "lines") {
        for (i = 2; i <= n_out; i++) {
            t = out[i]; tk = key[i]
            for (j = i - 1; j >= 1 && key[j] > tk; j--) { out[j + 1] = out[j]; key[j + 1] = key[j] }
            out[j + 1] = t; key[j + 1] = tk
        }
        for (i = 1; i <= n_out; i++) printf "%s\n", out[i]
        exit
    }
    if (mode == "count") { printf "%d,%d,%d\n", count["done"], count["pruned"], n_axes + 1; exit }
    if (mode == "xtics") {
        s = ""
        for (a = 1; a <= n_axes; a++) s = s sprintf("\"%s\" %d, ", short(AXES[a]), a - 1)
        printf "(%s\"val_accuracy\" %d)\n", s, n_axes
        exit
    }
    if (mode != "ticks") exit
    for (a = 1; a <= n_axes; a++) {
        p = AXES[a]
        if (AX_cat[p]) for (i = 0; i < ax_nbins(p); i++) printf "%d,%.6g,%s\n", a - 1, ax_pos(p, AX_val[p, i + 1]), ax_label(p, i, "")
        else for (k = 0; k <= 2; k++) printf "%d,%.6g,%s\n", a - 1, k / 2, ax_tick(p, k)
    }
    for (k = 0; k <= 2; k++) printf "%d,%.6g,%.3f\n", n_axes, k / 2, lo + (hi - lo) * k / 2
}
