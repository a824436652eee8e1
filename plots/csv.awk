# CSV helpers shared by the plot scripts (plain POSIX awk: mawk or gawk).
# csv_split(line, f): splits one CSV record into f[1..n] (quoted fields, "" escapes); returns n.
function csv_split(line, f,    n, i, c, field, inq) {
    n = 0; field = ""; inq = 0
    for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (inq) {
            if (c == "\"" && substr(line, i + 1, 1) == "\"") { field = field "\""; i++ }
            else if (c == "\"") inq = 0
            else field = field c
        } else if (c == "\"") inq = 1
        else if (c == ",") { f[++n] = field; field = "" }
        else if (c != "\r") field = field c
    }
    f[++n] = field
    return n
}
# csv_header(line, col): col[name] = index for the header record.
function csv_header(line, col,    h, n, i) {
    n = csv_split(line, h)
    for (i = 1; i <= n; i++) col[h[i]] = i
    return n
}
function is_number(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
