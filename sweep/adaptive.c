#include "adaptive.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "trial_id.h"

static void log_path(const Adaptive *ad, int t, char *out, size_t n) {
    char dir[SWEEP_PATH_MAX + TRIAL_ID_MAX];
    plan_trial_dir(ad->plan, t, dir, sizeof dir);
    snprintf(out, n, "%s/train_log.csv", dir);
}

/* Trial t's logged epochs into the pruner (again: rows already there are replaced by
 * the same values). A log that cannot be read (a row torn by a kill) is reported and the
 * rows before the problem are kept: a trial never fails the sweep over it. */
static void replay_trial(Adaptive *ad, int t) {
    char path[SWEEP_PATH_MAX + TRIAL_ID_MAX + 32];
    log_path(ad, t, path, sizeof path);
    int rows;
    Err e;
    if (pruner_replay_log(&ad->pruner, t, path, ad->plan->results[t].status == STATUS_DONE, &rows, &e))
        fprintf(stderr, "sweep: early_stop: %s (rows before it are used)\n", e.msg);
}

static int open_journal(Adaptive *ad, Err *e) {
    char path[SWEEP_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/early_stop.csv", ad->plan->sweep_dir);
    if (fs_mkdir_p(ad->plan->sweep_dir, e)) return -1;
    int fresh = !fs_exists(path);
    if (!(ad->journal = fopen(path, "a"))) return err_fail(e, "%s: cannot open for appending", path);
    if (fresh) fprintf(ad->journal, "trial,id,epoch,%s,decision\n", ad->pruner.o.metric), fflush(ad->journal);
    return 0;
}

static int open_pruner(Adaptive *ad, const int *todo, int n_todo, Err *e) {
    SweepPlan *p = ad->plan;
    if (pruner_init(&ad->pruner, &p->spec.early_stop, plan_max_epochs(p), e)) return -1;
    ad->full_budget = calloc((size_t)p->capacity + 1, 1);
    TL_CHECK_ALLOC(e, ad->full_budget);
    for (int k = 0; k < n_todo; k++) ad->full_budget[todo[k]] = p->results[todo[k]].status == STATUS_PRUNED;
    for (int t = 0; t < p->ts.n; t++) replay_trial(ad, t);
    return open_journal(ad, e);
}

int adaptive_open(Adaptive *ad, SweepPlan *p, const int *todo, int n_todo, Err *e) {
    memset(ad, 0, sizeof *ad);
    ad->plan = p;
    ad->tpe = p->spec.method == METHOD_TPE;
    ad->prune = p->spec.early_stop.method != PRUNE_NONE;
    if (ad->tpe && (study_open(&ad->study, &p->spec, p->sweep_dir, e) || study_tell_missing(&ad->study, p->results, p->ts.n, e)))
        return -1;
    if (ad->tpe && ad->study.replay_mismatches)
        fprintf(stderr, "sweep: note: %d draws in %s differ from what this build's sampler gives; they are kept as drawn\n",
                ad->study.replay_mismatches, ad->study.path);
    return ad->prune ? open_pruner(ad, todo, n_todo, e) : 0;
}

void adaptive_close(Adaptive *ad) {
    if (ad->tpe) study_free(&ad->study);
    if (ad->prune) pruner_free(&ad->pruner);
    if (ad->journal) fclose(ad->journal);
    free(ad->full_budget);
    memset(ad, 0, sizeof *ad);
}

/* tpe: a draw. 1 and *t when it is to run; 0 when it is not: its folder holds a result
 * already (study.csv was lost, the trial folders were not: a finished one is told, so the
 * study is rebuilt as it was), or it is a startup trial that failed (no --retry-failed);
 * -1 error. */
static int draw(Adaptive *ad, const int *todo, int n_todo, int *cursor, long *t, Err *e) {
    SweepPlan *p = ad->plan;
    int known = p->ts.n, rc = study_ask(&ad->study, &p->ts, t, e);
    if (rc != 0) return rc < 0 ? -1 : (*t = -1, 1);
    if (*t >= known && plan_add_drawn(p, (int)*t, e)) return -1;
    if (*t < known && *cursor < n_todo && todo[*cursor] == *t) return (*cursor)++, 1;
    if (status_finished(p->results[*t].status)) return study_tell_result(&ad->study, *t, &p->results[*t], e) ? -1 : 0;
    return *t >= known && p->results[*t].status != STATUS_FAILED;
}

int adaptive_next(Adaptive *ad, const int *todo, int n_todo, int *cursor, long *t, Err *e) {
    *t = -1;
    /* Trials the study drew before (grid and random: every trial) run first, in order. */
    if (*cursor < n_todo && (!ad->tpe || todo[*cursor] < ad->study.n_asked)) { *t = todo[(*cursor)++]; return 0; }
    if (!ad->tpe) return 0;
    int rc;
    while ((rc = draw(ad, todo, n_todo, cursor, t, e)) == 0) {}
    return rc < 0 ? -1 : 0;
}

int adaptive_trial_done(Adaptive *ad, int t, Err *e) {
    if (ad->tpe && t < ad->study.n_asked && study_tell_result(&ad->study, t, &ad->plan->results[t], e)) return -1;
    if (ad->prune) replay_trial(ad, t);
    return 0;
}

static void journal_epoch(Adaptive *ad, int t, int epoch, double value, const char *decision) {
    char num[40] = "";
    if (!isnan(value)) format_number_shortest(value, num, sizeof num);
    fprintf(ad->journal, "%d,%s,%d,%s,%s\n", t, ad->plan->ts.trials[t].id, epoch, num, decision);
    fflush(ad->journal);
}

int adaptive_epoch(Adaptive *ad, int t, int epoch, double value, int *stop, Err *e) {
    *stop = 0;
    if (!ad->prune) return 0;
    if (t < 0 || t >= ad->plan->ts.n) return err_fail(e, "early_stop: a report from trial %d, which this sweep lacks", t);
    PruneDecision d = PRUNE_CONTINUE;
    int rc = ad->full_budget[t] ? pruner_record(&ad->pruner, t, epoch, value, e) : pruner_report(&ad->pruner, t, epoch, value, &d, e);
    if (rc) return -1;
    *stop = d == PRUNE_STOP;
    journal_epoch(ad, t, epoch, value, ad->full_budget[t] ? "retried" : *stop ? "stop" : "continue");
    return 0;
}
