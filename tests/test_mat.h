/* Devkit-style .mat files written with libmatio, as MATLAB lays them out: a cell array
 * class_names of char rows, and a struct array annotations (bbox_x1, bbox_y1, bbox_x2,
 * bbox_y2, class, fname). Used by the import test and the fuzzer's seeds (fuzz/make_seeds.c). */
#ifndef TL_TEST_MAT_H
#define TL_TEST_MAT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <matio.h>

typedef struct Anno { char fname[32]; int label; int box[4]; } Anno;

/* A MAT char row; odd `wide` stores 16-bit code units as MATLAB does. */
static matvar_t *mat_string_var(const char *s, int wide) {
    size_t dims[2] = {1, strlen(s)};
    if (!wide) return Mat_VarCreate(NULL, MAT_C_CHAR, MAT_T_UINT8, 2, dims, (void *)s, 0);
    uint16_t u[256];
    for (size_t i = 0; i < dims[1] && i < 256; i++) u[i] = (uint8_t)s[i];
    return Mat_VarCreate(NULL, MAT_C_CHAR, MAT_T_UINT16, 2, dims, u, 0);
}

static matvar_t *mat_scalar_var(int v, enum matio_classes cls) {
    size_t dims[2] = {1, 1};
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    double d = v;
    if (cls == MAT_C_UINT8) return Mat_VarCreate(NULL, MAT_C_UINT8, MAT_T_UINT8, 2, dims, &u8, 0);
    if (cls == MAT_C_UINT16) return Mat_VarCreate(NULL, MAT_C_UINT16, MAT_T_UINT16, 2, dims, &u16, 0);
    return Mat_VarCreate(NULL, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, &d, 0);
}

static int write_var(const char *path, matvar_t *v, enum matio_compression comp) {
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    if (!mat || !v) { fprintf(stderr, "cannot create %s\n", path); if (mat) Mat_Close(mat); Mat_VarFree(v); return -1; }
    int rc = Mat_VarWrite(mat, v, comp);
    Mat_VarFree(v);
    if (Mat_Close(mat) || rc) { fprintf(stderr, "cannot write %s\n", path); return -1; }
    return 0;
}

static int write_meta(const char *path, const char *const *names, int n) {
    size_t dims[2] = {1, (size_t)n};
    matvar_t *cell = Mat_VarCreate("class_names", MAT_C_CELL, MAT_T_CELL, 2, dims, NULL, 0);
    for (int i = 0; cell && i < n; i++) Mat_VarSetCell(cell, i, mat_string_var(names[i], i % 2));
    return write_var(path, cell, MAT_COMPRESSION_NONE);
}

static int write_annos(const char *path, const Anno *a, int n, enum matio_compression comp) {
    static const char *const fields[] = {"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname", NULL};
    size_t dims[2] = {1, (size_t)n};
    matvar_t *st = Mat_VarCreateStruct2("annotations", 2, dims, fields);
    for (int i = 0; st && i < n; i++) {
        for (int k = 0; k < 4; k++) Mat_VarSetStructFieldByName(st, fields[k], (size_t)i, mat_scalar_var(a[i].box[k], MAT_C_UINT16));
        Mat_VarSetStructFieldByName(st, "class", (size_t)i, mat_scalar_var(a[i].label, i % 3 ? MAT_C_UINT8 : MAT_C_DOUBLE));
        /* 16-bit chars in compressed files: matio 1.5.23 writes compressed 8-bit char data
         * of odd length without its padding (its reader then misreads the next field). */
        int wide = comp == MAT_COMPRESSION_ZLIB || i % 2;
        Mat_VarSetStructFieldByName(st, "fname", (size_t)i, mat_string_var(a[i].fname, wide));
    }
    return write_var(path, st, comp);
}

#endif
