#include "model/optimizer.h"

#include <stdlib.h>
#include <string.h>

int optimizer_kind_parse(const char *name, OptimizerKind *kind, Err *e) {
    for (int k = 0; k < N_OPTIMIZERS; k++)
        if (strcmp(name, OPTIMIZER_NAMES[k]) == 0) { *kind = (OptimizerKind)k; return 0; }
    return err_fail(e, "unknown optimizer '%s' (adam | sgd)", name);
}

int optimizer_create(Optimizer *o, const OptimizerSpec *spec, size_t n_params, Err *e) {
    memset(o, 0, sizeof *o);
    o->spec = *spec;
    o->n = n_params;
    if (spec->kind == OPT_ADAM &&
        !(spec->beta_1 >= 0 && spec->beta_1 < 1 && spec->beta_2 >= 0 && spec->beta_2 < 1 && spec->epsilon >= 0))
        return err_fail(e, "adam: need 0 <= beta_1, beta_2 < 1 and epsilon >= 0");
    if (spec->kind == OPT_SGD && !(spec->momentum >= 0 && spec->momentum < 1))
        return err_fail(e, "sgd: momentum must be in [0, 1) (got %g)", spec->momentum);
    o->m = tl_calloc(e, n_params, sizeof(float), "optimizer m");
    if (o->m && spec->kind == OPT_ADAM) o->v = tl_calloc(e, n_params, sizeof(float), "optimizer v");
    if (!o->m || (spec->kind == OPT_ADAM && !o->v)) { optimizer_free(o); return -1; }
    return 0;
}

int optimizer_add_range(Optimizer *o, size_t offset, size_t count, Err *e) {
    if (offset > o->n || count > o->n - offset)
        return err_fail(e, "optimizer: range [%zu, +%zu) outside %zu parameters", offset, count, o->n);
    if (count == 0) return 0;
    if (o->n_ranges && o->ranges[o->n_ranges - 1].offset + o->ranges[o->n_ranges - 1].count == offset) {
        o->ranges[o->n_ranges - 1].count += count;
        return 0;
    }
    if (o->n_ranges == o->cap_ranges) {
        int cap = o->cap_ranges ? 2 * o->cap_ranges : 8;
        OptRange *r = realloc(o->ranges, (size_t)cap * sizeof *r);
        TL_CHECK_ALLOC(e, r);
        o->ranges = r;
        o->cap_ranges = cap;
    }
    o->ranges[o->n_ranges++] = (OptRange){offset, count};
    return 0;
}

void optimizer_step(Optimizer *o, float *params, const float *grads, float lr) {
    optimizer_update_ranges(&o->spec, o->iterations, lr, params, grads, o->m, o->v, o->ranges, o->n_ranges);
    o->iterations++;
}

void optimizer_free(Optimizer *o) {
    free(o->m);
    free(o->v);
    free(o->ranges);
    memset(o, 0, sizeof *o);
}
