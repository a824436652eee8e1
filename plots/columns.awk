# Prints the named columns of a CSV file (comma separated), one line per record.
#   awk -v cols=val_accuracy,gap [-v status=done] -f plots/csv.awk -f plots/columns.awk FILE
# status: keep only records whose status column equals it. Records with an empty or
# non-numeric value in a numeric-looking request are kept as "NaN" (gnuplot skips them).
BEGIN { ncols = split(cols, want, ",") }
NR == 1 {
    csv_header($0, col)
    for (i = 1; i <= ncols; i++) if (!(want[i] in col)) { printf "columns.awk: no column '%s' in %s\n", want[i], FILENAME > "/dev/stderr"; bad = 1; exit 1 }
    next
}
{
    csv_split($0, f)
    if (status != "" && f[col["status"]] != status) next
    line = ""
    for (i = 1; i <= ncols; i++) {
        v = f[col[want[i]]]
        if (v == "") v = "NaN"
        gsub(/[, ]/, "_", v)
        line = line (i > 1 ? "," : "") v
    }
    print line
}
