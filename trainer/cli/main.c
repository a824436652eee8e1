/* TEMPORARY dispatcher of the `cars` branch, only so import-cars and check-data can run
 * before the integrator's trainer/cli/main.c exists. Do not merge: the real dispatcher
 * calls cmd_import_cars / cmd_check_data. */
#include <stdio.h>
#include <string.h>

int cmd_import_cars(int argc, char **argv);
int cmd_check_data(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "import-cars") == 0) return cmd_import_cars(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "check-data") == 0) return cmd_check_data(argc - 1, argv + 1);
    fprintf(stderr, "usage: trainer import-cars SRC DEST [...] | trainer check-data ROOT [--deep] [--json]\n");
    return 2;
}
