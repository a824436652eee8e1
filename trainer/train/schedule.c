#include "train/schedule.h"

#include <math.h>
#include <string.h>

static int parse_kind(const char *name, ScheduleKind *k, Err *e) {
    static const char *names[] = {"constant", "step", "exponential", "cosine", "plateau"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) { *k = (ScheduleKind)i; return 0; }
    return err_fail(e, "schedule.name '%s' unknown (constant | step | exponential | cosine | plateau)", name);
}

static int check_config(const LrSchedule *s, Err *e) {
    const ScheduleConfig *c = &s->cfg;
    if (!(s->base_lr > 0)) return err_fail(e, "schedule: lr must be > 0 (got %g)", s->base_lr);
    switch (s->kind) {
    case SCHED_STEP:
        if (c->step_size < 1) return err_fail(e, "schedule.step_size must be >= 1 (got %d)", c->step_size);
        if (!(c->gamma > 0)) return err_fail(e, "schedule.gamma must be > 0 (got %g)", c->gamma);
        break;
    case SCHED_EXPONENTIAL:
        if (!(c->decay_rate > 0)) return err_fail(e, "schedule.decay_rate must be > 0 (got %g)", c->decay_rate);
        if (!(c->decay_epochs > 0)) return err_fail(e, "schedule.decay_epochs must be > 0 (got %g)", c->decay_epochs);
        break;
    case SCHED_COSINE:
        if (c->warmup_epochs < 0) return err_fail(e, "schedule.warmup_epochs must be >= 0 (got %d)", c->warmup_epochs);
        if (!(c->min_lr >= 0)) return err_fail(e, "schedule.min_lr must be >= 0 (got %g)", c->min_lr);
        break;
    case SCHED_PLATEAU:
        /* Keras raises for factor >= 1. */
        if (!(c->factor > 0 && c->factor < 1)) return err_fail(e, "schedule.factor must be in (0, 1) (got %g)", c->factor);
        if (c->patience < 0 || c->cooldown < 0) return err_fail(e, "schedule.patience and cooldown must be >= 0");
        if (!(c->min_lr >= 0)) return err_fail(e, "schedule.min_lr must be >= 0 (got %g)", c->min_lr);
        if (!c->monitor[0]) return err_fail(e, "schedule.monitor is empty");
        break;
    case SCHED_CONSTANT:
        break;
    }
    return 0;
}

int schedule_init(LrSchedule *s, const ScheduleConfig *cfg, double base_lr, int epochs, Err *e) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->base_lr = base_lr;
    s->epochs = epochs;
    if (parse_kind(cfg->name, &s->kind, e) || check_config(s, e)) return -1;
    /* Keras ReduceLROnPlateau mode auto: max when "acc" is in the monitor name. */
    s->mode_max = strstr(cfg->monitor, "acc") != NULL;
    s->plateau.best = s->mode_max ? -INFINITY : INFINITY;
    s->lr = (float)base_lr;
    s->lr = schedule_lr_for_epoch(s, 0);
    return 0;
}

static double cosine_lr(const LrSchedule *s, int epoch) {
    int warm = s->cfg.warmup_epochs;
    if (epoch < warm) return s->base_lr * (epoch + 1) / warm;
    int span = s->epochs - warm;
    if (span < 1) span = 1;
    double progress = (double)(epoch - warm) / span;
    if (progress > 1) progress = 1;
    return s->cfg.min_lr + (s->base_lr - s->cfg.min_lr) * 0.5 * (1.0 + cos(M_PI * progress));
}

float schedule_lr_for_epoch(const LrSchedule *s, int epoch) {
    const ScheduleConfig *c = &s->cfg;
    switch (s->kind) {
    case SCHED_CONSTANT: return (float)s->base_lr;
    case SCHED_STEP: return (float)(s->base_lr * pow(c->gamma, epoch / c->step_size));
    case SCHED_EXPONENTIAL: return (float)(s->base_lr * pow(c->decay_rate, epoch / c->decay_epochs));
    case SCHED_COSINE: return (float)cosine_lr(s, epoch);
    case SCHED_PLATEAU: return s->lr;
    }
    return s->lr;
}

float schedule_epoch_begin(LrSchedule *s, int epoch) {
    s->lr = schedule_lr_for_epoch(s, epoch);
    return s->lr;
}

/* Keras ReduceLROnPlateau.on_epoch_end after logs["lr"] was read. */
static void plateau_update(LrSchedule *s, double current) {
    const ScheduleConfig *c = &s->cfg;
    PlateauState *p = &s->plateau;
    if (p->cooldown_counter > 0) { p->cooldown_counter--; p->wait = 0; }
    int improved = s->mode_max ? current > p->best + c->min_delta : current < p->best - c->min_delta;
    if (improved) {
        p->best = current;
        p->wait = 0;
        return;
    }
    if (p->cooldown_counter > 0) return;
    if (++p->wait < c->patience) return;
    if (!(s->lr > (float)c->min_lr)) return;
    /* float32 lr * Python float -> float64 under NumPy 1.x, then stored as float32. */
    double new_lr = (double)s->lr * c->factor;
    if (new_lr < c->min_lr) new_lr = c->min_lr;
    s->lr = (float)new_lr;
    p->cooldown_counter = c->cooldown;
    p->wait = 0;
    p->reductions++;
}

float schedule_epoch_end(LrSchedule *s, int have_current, double current) {
    float used = s->lr;
    if (s->kind == SCHED_PLATEAU && have_current) plateau_update(s, current);
    return used;
}
