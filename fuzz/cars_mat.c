/* Fuzz target: the Stanford Cars devkit importer (trainer/data/cars_import.c, libmatio)
 * over a release folder whose three .mat files come from the input:
 *   byte 0: flags (bit 0 --crop-bbox, bit 1 --skip-bad)
 *   u32 LE n1, n1 bytes: devkit/cars_meta.mat
 *   u32 LE n2, n2 bytes: devkit/cars_train_annos.mat
 *   the rest:            devkit/cars_test_annos_withlabels.mat
 * cars_train/ and cars_test/ hold 00001.jpg .. 00003.jpg (a photo, copied once), so
 * annotations that name them are imported (linked, or cropped and re-encoded) into DEST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "data/cars_import.h"
#include "fuzz.h"

enum { N_IMAGES = 3 };

/* The images the seeds' annotations name: a real photo from the JPEG corpus (48x36),
 * copied under each name once. */
static void make_images_once(void) {
    static int ready;
    if (ready) return;
    char *jpeg;
    size_t size;
    Err e = {0};
    if (fs_read_all(FUZZ_CORPUS_DIR "/jpeg/baseline_420.jpg", &jpeg, &size, &e)) fuzz_fail("%s", e.msg);
    for (int split = 0; split < 2; split++)
        for (int k = 1; k <= N_IMAGES; k++) {
            char name[64], path[1024];
            snprintf(name, sizeof name, "src/%s/%05d.jpg", split ? "cars_test" : "cars_train", k);
            fuzz_write(path, sizeof path, name, (const uint8_t *)jpeg, size);
        }
    free(jpeg);
    ready = 1;
}

/* Takes a u32 length and that many bytes off the front of the input; -1 when short. */
static int take(const uint8_t **data, size_t *size, const uint8_t **part, size_t *n) {
    if (*size < 4) return -1;
    uint32_t len = (uint32_t)(*data)[0] | (uint32_t)(*data)[1] << 8 | (uint32_t)(*data)[2] << 16 | (uint32_t)(*data)[3] << 24;
    if (len > *size - 4) return -1;
    *part = *data + 4;
    *n = len;
    *data += 4 + len;
    *size -= 4 + len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *meta, *train;
    size_t n_meta, n_train;
    if (size < 1) return 0;
    int flags = data[0];
    data++, size--;
    if (take(&data, &size, &meta, &n_meta) || take(&data, &size, &train, &n_train)) return 0;
    make_images_once();
    char p_meta[1024], p_train[1024], p_test[1024], src[1024], dest[1024];
    fuzz_write(p_meta, sizeof p_meta, "src/devkit/cars_meta.mat", meta, n_meta);
    fuzz_write(p_train, sizeof p_train, "src/devkit/cars_train_annos.mat", train, n_train);
    fuzz_write(p_test, sizeof p_test, "src/devkit/cars_test_annos_withlabels.mat", data, size);
    fuzz_path(src, sizeof src, "src");
    fuzz_path(dest, sizeof dest, "dest");
    CarsImportOptions opt;
    cars_import_defaults(&opt);
    opt.crop_bbox = flags & 1;
    opt.skip_bad = (flags >> 1) & 1;
    opt.force = 1;
    CarsImportReport rep;
    Err e = {0};
    int rc = cars_import(src, dest, &opt, &rep, NULL, &e);
    if (rc && getenv("FUZZ_VERBOSE")) fprintf(stderr, "refused: %s\n", e.msg);
    /* A failure names the .mat file at fault, or the image or folder it was about. */
    if (rc && !strstr(e.msg, src) && !strstr(e.msg, dest)) fuzz_fail("the error names no file: \"%s\"", e.msg);
    return 0;
}
