/* Fuzz target: the trial-config reader (trainer/train/config.c over core/yaml_tree.c), as
 * `trainer train FILE` reads a file. A file that loads must write out (config.yaml) and
 * read back to the same value and hold no NUL byte; one that fails must say which file. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "train/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024], again[1024];
    TrialConfig c, back;
    Err e = {0};
    fuzz_write(path, sizeof path, "trial.yaml", data, size);
    int rc = config_load_file(&c, path, &e);
    fuzz_expect_named(rc, &e, path);
    if (rc) return 0;
    if (memchr(data, 0, size)) fuzz_fail("a file with a NUL byte loaded: the text after it was ignored");
    fuzz_path(again, sizeof again, "config.yaml");
    FILE *f = fopen(again, "w");
    if (!f || config_emit(&c, f, &e) || fclose(f)) fuzz_fail("config_emit: %s", e.msg);
    if (config_load_file(&back, again, &e)) fuzz_fail("config.yaml written from a valid file does not read back: %s", e.msg);
    if (!config_equal(&c, &back)) fuzz_fail("config.yaml does not read back to the value it was written from");
    config_free(&back);
    config_free(&c);
    return 0;
}
