/* trainer: one program, several subcommands (git style). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"

typedef struct Command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    {"train", cmd_train, "run (or resume) one trial: trainer train CONFIG.yaml --out DIR"},
    {"predict", cmd_predict, "classify images with a finished trial: trainer predict --run DIR IMAGE..."},
    {"evaluate", cmd_evaluate, "loss, accuracy, confusion of a finished trial on a split: trainer evaluate --run DIR"},
    {"cache-features", cmd_cache_features, "fill a shard of a trial's backbone feature cache"},
    {"import-cars", cmd_import_cars, "Stanford Cars release -> train/validation/test class folders"},
    {"check-data", cmd_check_data, "check a class-folder dataset (counts, corrupt files, duplicates)"},
    {"demo-data", cmd_demo_data, "Fashion-MNIST -> JPEG class folders for the demo"},
    {"features", cmd_features, "pooled ResNet features of images -> float32 rows"},
    {"make-weights", cmd_make_weights, "write a Keras-layout weight file with random weights"},
    {"export-weights", cmd_export_weights, "a trial's backbone as a Keras weight file: trainer export-weights --run DIR --out F.h5"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: trainer COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++) fprintf(f, "  %-16s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n`trainer COMMAND --help` describes a command.\n");
}

/* oneDNN's OpenMP threads spin between parallel regions by default, which starves the
 * OpenBLAS and loader threads sharing the cores (measured: a fine-tuning epoch 30-45 s
 * spinning vs 5 s passive on 2 busy cores; the forward pass is the same speed). libgomp
 * reads OMP_WAIT_POLICY only at start-up, so set it and execute the program once more. */
static void prefer_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv); /* on failure, carry on with the default policy */
}

int main(int argc, char **argv) {
    prefer_passive_openmp(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "trainer: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
