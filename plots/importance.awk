# How much of the variance of val accuracy and of the gap each swept axis explains alone,
# over the finished trials of a summary.csv (read twice: values, then trials):
#   awk -f plots/csv.awk -f plots/axis_bins.awk -f plots/importance.awk summary.csv summary.csv
# Output: "axis,share_val_accuracy,share_gap,groups" per axis with at least 2 groups.
# Method: an additive model y = mean + sum over axes of f_a(group of a), one group per value
# (or per bin of a numeric axis, plots/axis_bins.awk), fitted by backfitting (each f_a the
# group means of what the other axes leave; exact after one pass on a full grid, where the
# f_a are the classic ANOVA main effects). An axis's share is the variance its effect
# explains, SS_a = sum over trials of f_a^2, less what k_a groups would explain of pure
# noise, (k_a - 1) s^2 with s^2 the model's residual variance, over the total sum of
# squares; clipped at 0. The sum of squares is the model's own, sum of SS_a + the residual,
# which is the total on a full grid and keeps the shares' sum at most 1 when missing or
# drawn trials make the axes correlated. The shares leave out interactions and noise.
FNR == 1 {
    ncols = csv_split($0, names)
    csv_header($0, col)
    n_axes = summary_axes(names, ncols)
    if (NR != FNR) for (a = 1; a <= n_axes; a++) ax_finish(AXES[a])
    next
}
{
    csv_split($0, f)
    if (f[col["status"]] != "done" || !is_number(f[col["val_accuracy"]]) || !is_number(f[col["gap"]])) next
    if (NR == FNR) { for (a = 1; a <= n_axes; a++) ax_add(AXES[a], f[col[AXES[a]]]); next }
    n++
    y[1, n] = f[col["val_accuracy"]] + 0; y[2, n] = f[col["gap"]] + 0
    for (a = 1; a <= n_axes; a++) { g = ax_bin(AXES[a], f[col[AXES[a]]]); grp[a, n] = g; cnt[a, g]++ }
}
# Fits metric m: eff[a, g]; returns the residual sum of squares.
function backfit(m,    it, a, g, i, r, s, sum, ss, mean) {
    mean = 0
    for (i = 1; i <= n; i++) mean += y[m, i]
    mean /= n
    for (a = 1; a <= n_axes; a++) for (g = 0; g < ax_nbins(AXES[a]); g++) eff[a, g] = 0
    for (it = 0; it < 100; it++) {
        for (a = 1; a <= n_axes; a++) {
            for (g = 0; g < ax_nbins(AXES[a]); g++) sum[g] = 0
            for (i = 1; i <= n; i++) {
                r = y[m, i] - mean
                for (s = 1; s <= n_axes; s++) if (s != a) r -= eff[s, grp[s, i]]
                sum[grp[a, i]] += r
            }
            for (g = 0; g < ax_nbins(AXES[a]); g++) eff[a, g] = cnt[a, g] ? sum[g] / cnt[a, g] : 0
        }
    }
    ss = 0
    for (i = 1; i <= n; i++) {
        r = y[m, i] - mean
        for (a = 1; a <= n_axes; a++) r -= eff[a, grp[a, i]]
        ss += r * r
    }
    return ss
}
function groups(a,    g, k) {
    k = 0
    for (g = 0; g < ax_nbins(AXES[a]); g++) k += cnt[a, g] > 0
    return k
}
END {
    if (n < 3) exit
    dof = n - 1
    for (a = 1; a <= n_axes; a++) dof -= groups(a) - 1
    for (m = 1; m <= 2; m++) {
        ssr = backfit(m)
        s2 = dof > 0 ? ssr / dof : 0
        for (a = 1; a <= n_axes; a++) {
            ssa = 0
            for (g = 0; g < ax_nbins(AXES[a]); g++) ssa += cnt[a, g] * eff[a, g] ^ 2
            ss_axis[a] = ssa
        }
        denom = ssr
        for (a = 1; a <= n_axes; a++) denom += ss_axis[a]
        for (a = 1; a <= n_axes; a++) {
            v = denom > 0 ? (ss_axis[a] - (groups(a) - 1) * s2) / denom : 0
            share[m, a] = v < 0 ? 0 : v
        }
    }
    for (a = 1; a <= n_axes; a++)
        if (groups(a) >= 2) printf "%s,%.4f,%.4f,%d\n", AXES[a], share[1, a], share[2, a], groups(a)
}
