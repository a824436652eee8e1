# Sourced by every tests/e2e/*.sh: the pass/fail counters, three ways to record a check, and
# the closing "N passed, N failed" line ctest's output shows. A failed check prints
# "FAIL: what" and the script goes on, so one run lists every failure.
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check WHAT COMMAND [ARGS...]: passes when the command succeeds.
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# check_eval WHAT 'SHELL EXPRESSION': passes when the expression, evaluated here, succeeds.
check_eval() { if eval "$2"; then ok; else bad "$1"; fi; }
# untimed CSV: the CSV without its timing columns (seconds, seconds_per_epoch), which differ
# between two runs of the same trial (CRLF line ends, as the trainer writes, become LF).
untimed() {
    awk -F, '{ sub(/\r$/, "") }
             NR == 1 { for (i = 1; i <= NF; i++) if ($i != "seconds" && $i != "seconds_per_epoch") keep[++n] = i }
             { line = ""; for (j = 1; j <= n; j++) line = line (j > 1 ? "," : "") $(keep[j]); print line }' "$1"
}
# close_csv A B: the untimed CSVs are equal, numbers within 1e-6 relative (the rest exactly),
# printing any difference. For runs whose trainers used different thread counts: on some
# machines of this project the trainer's float32 sums then differ in the last 1-2 bits
# (measured: train and val losses 1e-7 relative apart between 1 and 2 threads, every accuracy
# and epoch equal); a wrong resume or a lost epoch moves figures far more than this.
close_csv() {
    local d
    d=$(diff <(untimed "$1") <(untimed "$2")) && return 0
    echo "$d"
    paste -d'\n' <(untimed "$1") <(untimed "$2") | awk -F, '
        NR % 2 { n = split($0, a, ","); next }
        { if (NF != n) bad = 1
          for (i = 1; i <= n; i++) if (a[i] != $i) {
              num = a[i] ~ /^-?[0-9.]+(e-?[0-9]+)?$/ && $i ~ /^-?[0-9.]+(e-?[0-9]+)?$/
              d = a[i] - $i; m = (a[i] < 0 ? -a[i] : a[i]); if (d < 0) d = -d
              if (!num || d > 1e-6 * m) bad = 1 } }
        END { if (!bad) print "(equal within 1e-6 relative)"; exit bad }'
}
# The closing line; status 0 only when nothing failed.
checks_end() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
