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
# The closing line; status 0 only when nothing failed.
checks_end() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
