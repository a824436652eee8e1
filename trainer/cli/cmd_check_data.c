/* `trainer check-data ROOT [--deep] [--json]`: is this class-folder tree fit to train on?
 * Exit 0: fine (warnings allowed); 1: errors that would break training; 2: usage. */
#include <stdio.h>
#include <string.h>

#include "data/check_data.h"

static void check_data_usage(FILE *f) {
    fprintf(f,
            "usage: trainer check-data ROOT [--deep] [--json]\n"
            "  ROOT    holds train/, validation/ (optional) and test/ with one folder per class\n"
            "  --deep  decode every image fully (default: headers only, plus a full decode of\n"
            "          files that look truncated)\n"
            "  --json  print the report as JSON instead of tables\n"
            "exit status: 0 fine (warnings allowed), 1 errors that would break training, 2 usage\n");
}

int cmd_check_data(int argc, char **argv) {
    const char *root = NULL;
    int json = 0;
    CheckDataOptions opt = {.deep = 0, .progress = stderr};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) { check_data_usage(stdout); return 0; }
        if (strcmp(argv[i], "--deep") == 0) opt.deep = 1;
        else if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "check-data: unknown option %s\n", argv[i]); return 2; }
        else if (!root) root = argv[i];
        else { fprintf(stderr, "check-data: unexpected argument %s\n", argv[i]); return 2; }
    }
    if (!root) { check_data_usage(stderr); return 2; }
    DataReport r;
    Err e = {{0}};
    if (check_data_scan(root, &opt, &r, &e)) {
        fprintf(stderr, "check-data: %s\n", e.msg);
        data_report_free(&r);
        return 2;
    }
    if (json) check_data_print_json(&r, stdout);
    else check_data_print_table(&r, stdout);
    int status = check_data_status(&r);
    data_report_free(&r);
    return status;
}
