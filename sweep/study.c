#include "study.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "csv.h"

/* ---- state ---- */

static int grow(Study *st, long need, Err *e) {
    if (need <= st->cap) return 0;
    long cap = need > 2 * st->cap ? need : 2 * st->cap;
    double *x = realloc(st->x, (size_t)(cap * st->n_dims + 1) * sizeof *x);
    if (x) st->x = x;
    char (*ids)[TRIAL_ID_MAX] = realloc(st->ids, (size_t)cap * sizeof *ids);
    if (ids) st->ids = ids;
    int *seen = realloc(st->seen, (size_t)cap * sizeof *seen);
    if (seen) st->seen = seen;
    StudyObs *obs = realloc(st->obs, (size_t)cap * sizeof *obs);
    if (obs) st->obs = obs;
    long *order = realloc(st->order, (size_t)cap * sizeof *order);
    if (order) st->order = order;
    if (!x || !ids || !seen || !obs || !order) return err_fail(e, "out of memory (tpe study)");
    st->cap = cap;
    return 0;
}

void study_free(Study *st) {
    free(st->dims), free(st->x), free(st->ids), free(st->seen), free(st->obs), free(st->order);
    memset(st, 0, sizeof *st);
}

int study_draw(const Study *st, long t, int n_obs, double *x, Err *e) {
    TpeObs *obs = malloc(((size_t)n_obs + 1) * sizeof *obs);
    TL_CHECK_ALLOC(e, obs);
    for (int i = 0; i < n_obs; i++) {
        long k = st->order[i];
        obs[i] = (TpeObs){.x = st->x + k * st->n_dims, .score = st->obs[k].score, .pruned = st->obs[k].pruned,
                          .epochs = st->obs[k].epochs};
    }
    const SweepSpec *s = st->spec;
    int rc = tpe_suggest(st->dims, st->n_dims, &s->tpe, (uint64_t)s->seed, (uint32_t)t, obs, n_obs, x, e);
    free(obs);
    if (rc == 1) sweep_random_draw(s, t, x);
    if (rc != 0) return rc < 0 ? -1 : 0;
    for (int d = 0; d < st->n_dims - s->n_groups; d++) x[d] = axis_round(&s->axes[d], x[d]);
    return 0;
}

/* ---- the journal, study.csv ---- */

static void dim_name(const Study *st, int d, char *out, size_t n) {
    int n_indep = st->n_dims - st->spec->n_groups;
    if (d < n_indep) snprintf(out, n, "%s", st->spec->axes[d].path);
    else snprintf(out, n, "zip%d", d - n_indep);
}

static void write_header(const Study *st, FILE *f) {
    char name[AXIS_PATH_MAX];
    fputs("event,trial,id,status,objective,epochs", f);
    for (int d = 0; d < st->n_dims; d++) dim_name(st, d, name, sizeof name), fprintf(f, ",%s", name);
    fputc('\n', f);
}

/* One line, appended and flushed at once (a kill leaves at most a torn last line). */
static int journal(const Study *st, const char *line, Err *e) {
    if (!st->path[0]) return 0;
    int fresh = !fs_exists(st->path);
    FILE *f = fopen(st->path, "a");
    if (!f) return err_fail(e, "%s: cannot append: %s", st->path, "open failed");
    if (fresh) write_header(st, f);
    fputs(line, f);
    int bad = fflush(f) != 0 || ferror(f);
    bad |= fclose(f) != 0;
    return bad ? err_fail(e, "%s: write failed", st->path) : 0;
}

static int journal_ask(const Study *st, long t, Err *e) {
    size_t n = 256 + TRIAL_ID_MAX + (size_t)st->n_dims * 40, k;
    char *line = malloc(n), num[40];
    TL_CHECK_ALLOC(e, line);
    k = (size_t)snprintf(line, n, "ask,%ld,%s,,,", t, st->ids[t]);
    for (int d = 0; d < st->n_dims; d++) {
        format_number_shortest(st->x[t * st->n_dims + d], num, sizeof num);
        k += (size_t)snprintf(line + k, n - k, ",%s", num);
    }
    snprintf(line + k, n - k, "\n");
    int rc = journal(st, line, e);
    free(line);
    return rc;
}

static int journal_tell(const Study *st, long t, SweepTrialStatus status, double value, int epochs, Err *e) {
    char line[256 + TRIAL_ID_MAX], num[40] = "";
    if (!isnan(value)) format_number_shortest(value, num, sizeof num);
    snprintf(line, sizeof line, "tell,%ld,%s,%s,%s,%d,\n", t, st->ids[t], status_name(status), num, epochs);
    return journal(st, line, e);
}

/* ---- ask and tell ---- */

static int record_draw(Study *st, long t, const double *x, const char *id, Err *e) {
    if (grow(st, t + 1, e)) return -1;
    memcpy(st->x + t * st->n_dims, x, (size_t)st->n_dims * sizeof *x);
    snprintf(st->ids[t], TRIAL_ID_MAX, "%s", id);
    st->seen[t] = st->n_obs;
    st->obs[t] = (StudyObs){0};
    st->n_asked = t + 1;
    return 0;
}

int study_ask(Study *st, TrialSet *ts, long *trial, Err *e) {
    if (st->n_asked >= st->spec->n_trials) return 1;
    long t = st->n_asked;
    double *x = calloc((size_t)st->n_dims + 1, sizeof *x);
    TL_CHECK_ALLOC(e, x);
    int rc = study_draw(st, t, st->n_obs, x, e);
    if (rc == 0 && t >= ts->n) rc = t == ts->n ? trial_set_add_draw(st->spec, ts, x, e)
                                               : err_fail(e, "tpe: trial %ld drawn but the set holds %d", t, ts->n);
    if (rc == 0) rc = record_draw(st, t, x, ts->trials[t].id, e);
    if (rc == 0) rc = journal_ask(st, t, e);
    free(x);
    if (rc == 0) *trial = t;
    return rc;
}

static int apply_tell(Study *st, long t, SweepTrialStatus status, double value, int epochs, Err *e) {
    if (t < 0 || t >= st->n_asked) return err_fail(e, "tpe: result of trial %ld, which was never drawn", t);
    if (status != STATUS_DONE && status != STATUS_DIVERGED && status != STATUS_PRUNED) return 1;
    StudyObs *o = &st->obs[t];
    if (o->told) {   /* told again (a retried trial): it moves to the end */
        memmove(st->order + o->told - 1, st->order + o->told, (size_t)(st->n_obs - o->told) * sizeof *st->order);
        st->n_obs--;
        for (int i = o->told - 1; i < st->n_obs; i++) st->obs[st->order[i]].told = i + 1;
    }
    double score = st->spec->objective.maximize ? -value : value;
    if (status == STATUS_DIVERGED || isnan(score)) score = INFINITY;
    *o = (StudyObs){.score = score, .pruned = status == STATUS_PRUNED, .epochs = epochs, .told = st->n_obs + 1};
    st->order[st->n_obs++] = t;
    return 0;
}

int study_tell(Study *st, long trial, SweepTrialStatus status, double value, int epochs, Err *e) {
    int rc = apply_tell(st, trial, status, value, epochs, e);
    if (rc) return rc < 0 ? -1 : 0;
    return journal_tell(st, trial, status, value, epochs, e);
}

static double result_number(const TrialResult *r, const char *col) {
    const char *s = csv_get(&r->csv, 0, col);
    char *end;
    double v = strtod(s, &end);
    return *s && *end == 0 ? v : NAN;
}

int study_tell_result(Study *st, long trial, const TrialResult *r, Err *e) {
    double epochs = result_number(r, "epochs");
    return study_tell(st, trial, r->status, result_number(r, st->spec->objective.metric), isnan(epochs) ? 0 : (int)epochs, e);
}

int study_tell_missing(Study *st, const TrialResult *results, int n_results, Err *e) {
    for (long t = 0; t < st->n_asked && t < n_results; t++)
        if (!st->obs[t].told && status_finished(results[t].status) && study_tell_result(st, t, &results[t], e)) return -1;
    return 0;
}

int study_fill_trials(const Study *st, TrialSet *ts, Err *e) {
    for (long t = ts->n; t < st->n_asked; t++) {
        if (trial_set_add_draw(st->spec, ts, st->x + t * st->n_dims, e)) return -1;
        if (strcmp(ts->trials[t].id, st->ids[t]) != 0)
            return err_fail(e, "%s: trial %ld is '%s' but its values give '%s' (was the sweep file changed?)", st->path, t,
                            st->ids[t], ts->trials[t].id);
    }
    return 0;
}

/* ---- replay ---- */

static int parse_number(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return *s && *end == 0;
}

static int check_header(const Study *st, const CsvTable *t, Err *e) {
    char name[AXIS_PATH_MAX];
    int ok = t->n_cols == 6 + st->n_dims;
    for (int d = 0; d < st->n_dims && ok; d++) dim_name(st, d, name, sizeof name), ok = strcmp(t->header[6 + d], name) == 0;
    if (!ok) return err_fail(e, "%s: its columns are not this sweep's dimensions (the axes changed?); move it away to start a new study", st->path);
    return 0;
}

static int replay_ask(Study *st, const CsvTable *t, int r, long trial, Err *e) {
    if (trial != st->n_asked) return err_fail(e, "%s:%d: ask of trial %ld, expected %ld", st->path, r + 2, trial, st->n_asked);
    double *x = calloc((size_t)st->n_dims + 1, sizeof *x), *again = calloc((size_t)st->n_dims + 1, sizeof *again);
    int rc = x && again ? 0 : err_fail(e, "out of memory (tpe study)");
    for (int d = 0; d < st->n_dims && rc == 0; d++)
        if (!parse_number(t->rows[r][6 + d], &x[d])) rc = err_fail(e, "%s:%d: value '%s' is not a number", st->path, r + 2, t->rows[r][6 + d]);
    if (rc == 0) rc = study_draw(st, trial, st->n_obs, again, e);
    if (rc == 0) st->replay_mismatches += memcmp(x, again, (size_t)st->n_dims * sizeof *x) != 0;
    if (rc == 0) rc = record_draw(st, trial, x, t->rows[r][2], e);
    free(x), free(again);
    return rc;
}

static int replay_tell(Study *st, const CsvTable *t, int r, long trial, Err *e) {
    const char *status = t->rows[r][3];
    SweepTrialStatus s = !strcmp(status, "done") ? STATUS_DONE : !strcmp(status, "diverged") ? STATUS_DIVERGED
                    : !strcmp(status, "pruned") ? STATUS_PRUNED : STATUS_FAILED;
    double value = NAN, epochs = 0;
    if (t->rows[r][4][0] && !parse_number(t->rows[r][4], &value))
        return err_fail(e, "%s:%d: objective '%s' is not a number", st->path, r + 2, t->rows[r][4]);
    parse_number(t->rows[r][5], &epochs);
    return apply_tell(st, trial, s, value, (int)epochs, e) < 0 ? -1 : 0;
}

static int replay(Study *st, Err *e) {
    char *text;
    if (fs_read_all(st->path, &text, NULL, e)) return -1;
    char *last = strrchr(text, '\n');   /* a torn last line is dropped */
    if (last) last[1] = 0; else text[0] = 0;
    CsvTable t;
    int rc = text[0] ? csv_parse(&t, text, st->path, e) : 0;
    free(text);
    if (rc || !last) return rc;
    rc = check_header(st, &t, e);
    for (int r = 0; r < t.n_rows && rc == 0; r++) {
        double trial;
        if (!parse_number(t.rows[r][1], &trial)) rc = err_fail(e, "%s:%d: trial '%s' is not a number", st->path, r + 2, t.rows[r][1]);
        else if (!strcmp(t.rows[r][0], "ask")) rc = replay_ask(st, &t, r, (long)trial, e);
        else if (!strcmp(t.rows[r][0], "tell")) rc = replay_tell(st, &t, r, (long)trial, e);
        else rc = err_fail(e, "%s:%d: unknown event '%s'", st->path, r + 2, t.rows[r][0]);
    }
    csv_free(&t);
    return rc;
}

int study_open(Study *st, const SweepSpec *s, const char *sweep_dir, Err *e) {
    memset(st, 0, sizeof *st);
    st->spec = s;
    st->n_dims = sweep_n_dims(s);
    st->dims = calloc((size_t)st->n_dims + 1, sizeof *st->dims);
    TL_CHECK_ALLOC(e, st->dims);
    sweep_tpe_dims(s, st->dims);
    if (grow(st, 16, e)) return -1;
    if (sweep_dir) snprintf(st->path, sizeof st->path, "%s/study.csv", sweep_dir);
    if (st->path[0] && fs_exists(st->path) && replay(st, e)) return -1;
    return 0;
}
