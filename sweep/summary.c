#include "summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

/* Columns some result.csv has beyond RESULT_COLUMNS, in order of first appearance. */
static int extra_columns(const TrialSet *ts, const TrialResult *results, const char **extra, int max) {
    int n = 0;
    for (int t = 0; t < ts->n; t++) {
        const CsvTable *c = &results[t].csv;
        for (int k = 0; k < c->n_cols; k++) {
            int known = 0;
            for (int j = 0; j < N_RESULT_COLUMNS && !known; j++) known = strcmp(c->header[k], RESULT_COLUMNS[j]) == 0;
            for (int j = 0; j < n && !known; j++) known = strcmp(c->header[k], extra[j]) == 0;
            if (!known && n < max) extra[n++] = c->header[k];
        }
    }
    return n;
}

static void write_result_field(FILE *f, const TrialResult *r, const char *col) {
    if (strcmp(col, "status") == 0) fputs(status_name(r->status), f);
    else if (strcmp(col, "message") == 0) csv_write_field(f, r->message);
    else csv_write_field(f, csv_get(&r->csv, 0, col));
}

int summary_write(const char *path, const SweepSpec *s, const TrialSet *ts, const TrialResult *results, Err *e) {
    const char *extra[64];
    int n_extra = extra_columns(ts, results, extra, 64);
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) return -1;
    FILE *f = af.f;
    fputs("trial", f);
    for (int i = 0; i < s->n_axes; i++) fprintf(f, ",%s", s->axes[i].path);
    for (int c = 1; c < N_RESULT_COLUMNS; c++) fprintf(f, ",%s", RESULT_COLUMNS[c]);
    for (int c = 0; c < n_extra; c++) fprintf(f, ",%s", extra[c]);
    fputc('\n', f);
    for (int t = 0; t < ts->n; t++) {
        csv_write_field(f, ts->trials[t].id);
        for (int i = 0; i < s->n_axes; i++) fputc(',', f), csv_write_field(f, ts->trials[t].text[i]);
        for (int c = 1; c < N_RESULT_COLUMNS; c++) fputc(',', f), write_result_field(f, &results[t], RESULT_COLUMNS[c]);
        for (int c = 0; c < n_extra; c++) fputc(',', f), write_result_field(f, &results[t], extra[c]);
        fputc('\n', f);
    }
    return fs_atomic_commit(&af, e);
}

/* Sort key: finished first, then pruned (stopped early: partial results), failed,
 * interrupted, pending. */
static int status_rank(SweepTrialStatus s) {
    if (s == STATUS_DONE || s == STATUS_DIVERGED) return 0;
    return s == STATUS_PRUNED ? 1 : s == STATUS_FAILED ? 2 : s == STATUS_INTERRUPTED ? 3 : 4;
}


static int better(const TrialResult *a, const TrialResult *b) {
    int ra = status_rank(a->status), rb = status_rank(b->status);
    if (ra != rb) return ra < rb;
    int na = isnan(a->val_accuracy), nb = isnan(b->val_accuracy);
    if (na != nb) return nb;
    if (!na && a->val_accuracy != b->val_accuracy) return a->val_accuracy > b->val_accuracy;
    if (!isnan(a->val_loss) && !isnan(b->val_loss)) return a->val_loss < b->val_loss;
    return 0;
}

void trials_rank(const TrialSet *ts, const TrialResult *results, int *order) {
    /* Insertion sort: stable (ties keep file order) and n is small. */
    for (int t = 0; t < ts->n; t++) {
        int k = t;
        while (k > 0 && better(&results[t], &results[order[k - 1]])) { order[k] = order[k - 1]; k--; }
        order[k] = t;
    }
}

static void md_number(FILE *f, const TrialResult *r, const char *col, int decimals) {
    const char *s = csv_get(&r->csv, 0, col);
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end) fputs(" |", f);
    else if (decimals < 0) fprintf(f, " %s |", s);
    else fprintf(f, " %.*f |", decimals, v);
}

/* Markdown table cells must not hold '|' or line breaks. */
static void md_text(FILE *f, const char *s) {
    for (; *s; s++) fputc(*s == '|' ? '/' : (*s == '\n' ? ' ' : *s), f);
}

static void report_table(FILE *f, const SweepSpec *s, const TrialSet *ts, const TrialResult *results, const int *order) {
    fputs("| # | trial |", f);
    for (int i = 0; i < s->n_axes; i++) fprintf(f, " %s |", s->axes[i].path);
    fputs(" val_accuracy | val_loss | gap | final_gap | best_epoch | epochs | test_accuracy | seconds | status |\n|---|---|", f);
    for (int i = 0; i < s->n_axes; i++) fputs("---|", f);
    fputs("---|---|---|---|---|---|---|---|---|\n", f);
    for (int k = 0; k < ts->n; k++) {
        const SweepTrial *t = &ts->trials[order[k]];
        const TrialResult *r = &results[order[k]];
        fprintf(f, "| %d | [%s](%s/) |", k + 1, t->id, t->id);
        for (int i = 0; i < s->n_axes; i++) fputc(' ', f), md_text(f, t->text[i]), fputs(" |", f);
        md_number(f, r, "val_accuracy", 4), md_number(f, r, "val_loss", 4), md_number(f, r, "gap", 4);
        md_number(f, r, "final_gap", 4), md_number(f, r, "best_epoch", -1), md_number(f, r, "epochs", -1);
        md_number(f, r, "test_accuracy", 4), md_number(f, r, "seconds", 1);
        fprintf(f, " %s |\n", status_name(r->status));
    }
}

/* Per axis value: trials, mean val_accuracy and mean gap over the finished trials. */
static void report_axis_means(FILE *f, const SweepSpec *s, const TrialSet *ts, const TrialResult *results) {
    for (int i = 0; i < s->n_axes; i++) {
        fprintf(f, "\n**%s**\n\n| value | trials | mean val_accuracy | mean gap |\n|---|---|---|---|\n", s->axes[i].path);
        for (int t = 0; t < ts->n; t++) {
            int first = 1;   /* report each value at its first trial */
            for (int u = 0; u < t && first; u++) first = strcmp(ts->trials[u].text[i], ts->trials[t].text[i]) != 0;
            if (!first) continue;
            int n = 0, na = 0, ng = 0;
            double acc = 0, gap = 0;
            for (int u = t; u < ts->n; u++) {
                if (strcmp(ts->trials[u].text[i], ts->trials[t].text[i]) != 0 || status_rank(results[u].status) != 0) continue;
                n++;
                if (!isnan(results[u].val_accuracy)) acc += results[u].val_accuracy, na++;
                if (!isnan(results[u].gap)) gap += results[u].gap, ng++;
            }
            fputs("| ", f), md_text(f, ts->trials[t].text[i]);
            fprintf(f, " | %d |", n);
            if (na) fprintf(f, " %.4f |", acc / na); else fputs(" |", f);
            if (ng) fprintf(f, " %.4f |\n", gap / ng); else fputs(" |\n", f);
        }
    }
}

/* Axes the heatmaps pair up: every axis but seeds (those are averaged over). */
static int heatmap_axis(const Axis *a) {
    size_t n = strlen(a->path);
    return !(strcmp(a->path, "seed") == 0 || (n > 5 && strcmp(a->path + n - 5, ".seed") == 0));
}

static void report_adaptive_charts(FILE *f, const SweepSpec *s) {
    for (int i = 0; i < s->n_axes; i++)
        for (int j = i + 1; j < s->n_axes; j++) {
            if (!heatmap_axis(&s->axes[i]) || !heatmap_axis(&s->axes[j])) continue;
            for (int m = 0; m < 2; m++)
                fprintf(f, "![%s over %s x %s](plots/heatmap_%s_%s_x_%s.png)\n", m ? "Train-val gap" : "Best val accuracy",
                        s->axes[i].path, s->axes[j].path, m ? "gap" : "val_accuracy", s->axes[i].path, s->axes[j].path);
            fputc('\n', f);
        }
    fputs("![Parallel coordinates of every trial](plots/parallel_coordinates.png)\n\n", f);
    fputs("![Hyperparameter importance](plots/importance.png)\n\n", f);
    if (s->random) fputs("![Optimisation history](plots/history.png)\n\n", f);
}

static void report_charts(FILE *f, const SweepSpec *s) {
    fputs("\n## Charts\n\nRendered by `make plots SWEEP=runs/<name>` (gnuplot) into plots/.\n\n", f);
    fputs("![Learning curves: accuracy](plots/learning_curves_accuracy.png)\n\n", f);
    fputs("![Learning curves: loss](plots/learning_curves_loss.png)\n\n", f);
    for (int i = 0; i < s->n_axes; i++) {
        fprintf(f, "![Train-val gap vs %s](plots/gap_vs_%s.png)\n", s->axes[i].path, s->axes[i].path);
        fprintf(f, "![Best val accuracy vs %s](plots/val_accuracy_vs_%s.png)\n\n", s->axes[i].path, s->axes[i].path);
    }
    if (s->n_axes) report_adaptive_charts(f, s);
    fputs("![Learning rate per trial](plots/lr.png)\n\n", f);
    fputs("![Gap vs val accuracy](plots/gap_vs_val_accuracy.png)\n\n", f);
    fputs("![Every sweep under runs/: gap vs val accuracy](../plots/gap_vs_val_accuracy_all_sweeps.png)\n", f);
}

static void report_header(FILE *f, const SweepSpec *s, const TrialSet *ts, const TrialResult *results, const int *order) {
    int count[STATUS_PRUNED + 1] = {0};
    for (int t = 0; t < ts->n; t++) count[results[t].status]++;
    char what[2048];
    sweep_spec_describe(s, ts->n, what, sizeof what);
    fprintf(f, "# Sweep `%s`\n\n", s->name);
    if (s->description[0]) fprintf(f, "%s\n\n", s->description);
    fprintf(f, "From `%s` (copy: [sweep.yaml](sweep.yaml)): %s.\n\n", s->file, what);
    fprintf(f, "Trials: %d done, %d diverged, %d failed, %d interrupted, %d pending", count[STATUS_DONE],
            count[STATUS_DIVERGED], count[STATUS_FAILED], count[STATUS_INTERRUPTED], count[STATUS_PENDING]);
    if (count[STATUS_PRUNED]) fprintf(f, ", %d pruned (stopped early by sweep.early_stop)", count[STATUS_PRUNED]);
    fputs(". Data: [summary.csv](summary.csv).\n\n", f);
    const TrialResult *best = ts->n ? &results[order[0]] : NULL;
    if (best && status_finished(best->status) && !isnan(best->val_accuracy))
        fprintf(f, "Best: **%s**, val_accuracy %.4f, val_loss %.4f, gap %.4f (train - val accuracy at the best epoch).\n\n",
                ts->trials[order[0]].id, best->val_accuracy, best->val_loss, best->gap);
}

static void report_failures(FILE *f, const TrialSet *ts, const TrialResult *results) {
    int any = 0;
    for (int t = 0; t < ts->n; t++) {
        if (results[t].status != STATUS_FAILED && results[t].status != STATUS_DIVERGED) continue;
        if (!any++) fputs("\n## Failed and diverged trials\n\n", f);
        fprintf(f, "- `%s` (%s): ", ts->trials[t].id, status_name(results[t].status));
        md_text(f, results[t].message[0] ? results[t].message : "(no message)");
        fprintf(f, " (see %s/trainer.log)\n", ts->trials[t].id);
    }
}

/* What the run said it would cost before it started, and the time phase 1 took: the
 * cost.txt the run wrote beside report.md (sweep/cost.h), when there is one. */
static void report_cost(FILE *f, const char *report_path) {
    char path[4096], *text;
    snprintf(path, sizeof path, "%s", report_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "cost.txt");
    if (fs_read_all(path, &text, NULL, NULL)) return;
    fputs("## Cost\n\nStated before the run started, and the time phase 1 really took ([cost.txt](cost.txt)):\n\n```\n", f);
    fputs(text, f);
    fputs("```\n\n", f);
    free(text);
}

int report_write(const char *path, const SweepSpec *s, const TrialSet *ts, const TrialResult *results, Err *e) {
    int *order = calloc((size_t)ts->n + 1, sizeof *order);
    TL_CHECK_ALLOC(e, order);
    trials_rank(ts, results, order);
    AtomicFile af;
    if (fs_atomic_open(&af, path, e)) { free(order); return -1; }
    report_header(af.f, s, ts, results, order);
    report_cost(af.f, path);
    fputs("## Trials, best val_accuracy first\n\n", af.f);
    report_table(af.f, s, ts, results, order);
    if (s->n_axes) fputs("\n## Means per axis value (finished trials)\n", af.f);
    report_axis_means(af.f, s, ts, results);
    report_failures(af.f, ts, results);
    report_charts(af.f, s);
    free(order);
    return fs_atomic_commit(&af, e);
}
