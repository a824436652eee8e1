/* trainer evaluate --run RUNDIR [--split test|validation|train] [--threads N] [--gpu I] [--plots]
 * Re-evaluates a finished trial's best weights on one split, exactly as the trial did for
 * result.csv (same features, same batches, same float32 means): loss = label-smoothed CE +
 * the L2 penalty (Keras's reported loss), top-1 and top-5 accuracy. Features come from
 * the trial's feature cache (trial_cache_dir) when that folder exists: entries missing
 * there (e.g. unaugmented train features) are computed and added; without the folder
 * they are computed and nothing is written.
 * Writes, atomically, into RUNDIR:
 *   confusion-<split>.csv   as confusion.csv          errors-<split>.csv   as errors.csv
 *   per_class_<split>.csv   class,images,correct,accuracy; worst class first
 *   per_class_accuracy_<split>.png  with --plots and gnuplot (plots/per_class_accuracy.gp)
 * The training split is evaluated without augmentation.
 * Exit status: 0 ok, 1 failed, 2 usage or a run folder that cannot be loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/csv_field.h"
#include "cli/run_options.h"
#include "core/fsutil.h"
#include "data/loader.h"
#include "model/resnet_train.h"
#include "train/feature_cache.h"
#include "train/head_trainer.h"
#include "train/metrics.h"
#include "train/trial.h"
#include "train/trial_data.h"
#include "train/trained_model.h"

typedef struct EvaluateArgs {
    RunOptions trial;
    const char *split;
    int plots;
} EvaluateArgs;

static const char *USAGE = "usage: trainer evaluate --run RUNDIR [--split test|validation|train] [--threads N] [--gpu I] [--plots]\n";

static int parse(int argc, char **argv, EvaluateArgs *a) {
    *a = (EvaluateArgs){.split = "test"};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (run_option(argc, argv, &i, &a->trial)) continue;
        if (arg_value(argc, argv, &i, "--split", &v)) a->split = v;
        else if (!strcmp(argv[i], "--plots")) a->plots = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 1; }
        else { fprintf(stderr, "trainer evaluate: unknown argument %s\n%s", argv[i], USAGE); return -1; }
    }
    if (run_options_check(&a->trial, "evaluate", USAGE)) return -1;
    if (strcmp(a->split, "test") && strcmp(a->split, "validation") && strcmp(a->split, "train"))
        fprintf(stderr, "trainer evaluate: --split must be test, validation or train (got '%s')\n", a->split);
    else return 0;
    return -1;
}

typedef struct Evaluation {
    const EvaluateArgs *args;
    TrainedModel model;
    Dataset ds;
    Backend *be;
    FeatureExtractor fx;
    TrialEntries te;
    FeatureEntry entry;           /* the split's feature table */
    const DatasetSplit *split;
    char cache_dir[1024];         /* "" when the trial's cache folder is absent */
    float *x;                     /* (n, 2048) features */
    int *y;                       /* (n) labels */
    Confusion cm;
    HeadScores scores;            /* as the trial computed them (head_evaluate) */
} Evaluation;

enum { FINETUNED_BATCH = 32 };

/* A fine-tuned trial's features: frozen prefix + the trained suffix from best.safetensors,
 * over the split's unaugmented images (the feature cache holds the untrained backbone's). */
static int finetuned_features(Evaluation *ev, Err *e) {
    const TrialConfig *c = &ev->model.cfg;
    const DatasetSplit *sp = ev->split;
    ResnetWeights w;
    Backbone bb = {0};
    ResnetSuffix suffix;
    Loader *loader = NULL;
    int batch = sp->n < FINETUNED_BATCH ? sp->n : FINETUNED_BATCH, suffix_made = 0;
    if (resnet_weights_open_named(&w, c->model.backbone, c->model.weights, e)) return -1;
    int rc;
    LoaderConfig lc = {.threads = ev->be->threads, .image_size = c->data.image_size,
                       .interp = strcmp(c->data.interpolation, "bilinear") ? INTERP_NEAREST : INTERP_BILINEAR,
                       .seed = (uint64_t)c->train.seed, .batch_capacity = batch, .depth = 3};
    rc = backbone_create(&bb, ev->be, c->model.backbone, &w, c->data.image_size, batch, e) ||
         (suffix_made = resnet_suffix_create(&suffix, ev->be, c->model.backbone, &w, c->model.trainable, c->data.image_size, batch,
                                             c->model.train_bn_affine, e) == 0) == 0 ||
         trained_model_load_suffix(&ev->model, &suffix, e) || loader_create(&loader, &lc, e) ||
         loader_start(loader, sp->items, NULL, sp->n, batch, 0, e) ? -1 : 0;
    resnet_weights_free(&w);
    LoaderBatch *b;
    int got = 0, row = 0;
    while (rc == 0 && (got = loader_next(loader, &b, e)) == 1) {
        rc = resnet_suffix_forward_images(&suffix, &bb, b->x, b->count, ev->x + (size_t)row * FEATURE_DIM, e);
        row += b->count;
        loader_release(loader, b);
    }
    if (got < 0) rc = -1;
    if (loader) loader_destroy(loader);
    if (suffix_made) resnet_suffix_free(&suffix);
    if (bb.convs) backbone_free(&bb);
    return rc;
}

/* The dataset must still have the classes the head was trained on, in the same order. */
static int check_classes(const Evaluation *ev, Err *e) {
    const TrainedModel *m = &ev->model;
    if (ev->ds.n_classes != m->n_classes)
        return err_fail(e, "%s has %d classes but %s was trained on %d (the dataset changed since the trial)",
                        m->cfg.data.root, ev->ds.n_classes, m->best_path, m->n_classes);
    for (int i = 0; i < m->n_classes; i++)
        if (strcmp(ev->ds.class_names[i], m->class_names[i]))
            return err_fail(e, "class %d is '%s' in %s but '%s' in %s (the dataset changed since the trial)", i,
                            ev->ds.class_names[i], m->cfg.data.root, m->class_names[i], m->best_path);
    return 0;
}

static int pick_split(Evaluation *ev, Err *e) {
    const char *s = ev->args->split;
    const TrialConfig *c = &ev->model.cfg;
    ev->split = !strcmp(s, "test") ? &ev->ds.test : !strcmp(s, "validation") ? &ev->ds.validation : &ev->ds.train;
    if (ev->split->n == 0)
        return err_fail(e, "%s: no %s images (%s)", c->data.root, s,
                        !strcmp(s, "test") ? "no test/ folder; try --split validation" : "empty split");
    if (!strcmp(s, "test")) ev->entry = ev->te.test;
    else if (!strcmp(s, "validation")) ev->entry = ev->te.validation;
    else if (ev->te.n_train_views && !ev->te.train_augment) ev->entry = ev->te.train[0];
    else feature_entry_init(&ev->entry, &ev->fx, "train", ev->ds.train.items, ev->ds.train.n, 0, 0);
    return 0;
}

/* Features of the split: the trial's own cache entry when present, else computed. */
static int load_features(Evaluation *ev, Err *e) {
    const TrialConfig *c = &ev->model.cfg;
    char dir[1024];
    trial_cache_dir(c, ev->model.run_dir, dir, sizeof dir);
    if (fs_is_dir(dir)) snprintf(ev->cache_dir, sizeof ev->cache_dir, "%s", dir);
    if (backend_open(&ev->be, c->train.device, ev->args->trial.gpu, c->model.precision, ev->args->trial.threads, e) ||
        feature_extractor_init(&ev->fx, c, ev->be, ev->be->threads, e) || trial_entries_init(&ev->te, &ev->fx, &ev->ds, e) ||
        pick_split(ev, e))
        return -1;
    int n = ev->split->n;
    ev->x = tl_malloc(e, (size_t)n * FEATURE_DIM * sizeof(float), "features");
    ev->y = tl_malloc(e, (size_t)n * sizeof(int), "labels");
    if (!ev->x || !ev->y) return -1;
    for (int i = 0; i < n; i++) ev->y[i] = ev->split->items[i].label;
    ev->fx.progress = isatty(2);
    if (strcmp(c->model.trainable, "head")) return finetuned_features(ev, e);
    return feature_entry_get(&ev->fx, ev->cache_dir[0] ? ev->cache_dir : NULL, &ev->entry, ev->x, e);
}

static void out_path(char *buf, size_t n, const Evaluation *ev, const char *stem, const char *ext) {
    char name[128];
    snprintf(name, sizeof name, "%s%s%s", stem, ev->args->split, ext);
    fs_join(buf, n, ev->model.run_dir, name);
}

typedef struct ClassScore { int c; long images, correct; double accuracy; } ClassScore;

static int by_accuracy(const void *pa, const void *pb) {
    const ClassScore *a = pa, *b = pb;
    int a_empty = a->images == 0, b_empty = b->images == 0;
    if (a_empty != b_empty) return a_empty - b_empty;
    if (a->accuracy != b->accuracy) return a->accuracy < b->accuracy ? -1 : 1;
    return a->c - b->c;
}

/* per_class_<split>.csv: worst class first (ties in class order), empty classes last. */
static int write_per_class(const Evaluation *ev, const char *path, Err *e) {
    int C = ev->cm.C;
    ClassScore *s = tl_calloc(e, (size_t)C, sizeof *s, "per-class scores");
    if (!s) return -1;
    for (int t = 0; t < C; t++) {
        s[t].c = t;
        for (int p = 0; p < C; p++) s[t].images += ev->cm.counts[(size_t)t * C + p];
        s[t].correct = ev->cm.counts[(size_t)t * C + t];
        s[t].accuracy = s[t].images ? (double)s[t].correct / s[t].images : 0;
    }
    qsort(s, (size_t)C, sizeof *s, by_accuracy);
    AtomicFile af;
    int rc = fs_atomic_open(&af, path, e);
    if (rc == 0) {
        fputs("class,images,correct,accuracy\n", af.f);
        for (int i = 0; i < C; i++) {
            csv_put_field(af.f, ev->model.class_names[s[i].c]);
            fprintf(af.f, ",%ld,%ld,", s[i].images, s[i].correct);
            if (s[i].images) fprintf(af.f, "%.9g", s[i].accuracy);
            fputc('\n', af.f);
        }
        rc = fs_atomic_commit(&af, e);
    }
    free(s);
    return rc;
}

static int write_outputs(const Evaluation *ev, Err *e) {
    char p1[1200], p2[1200], p3[1200];
    const char *const *names = (const char *const *)ev->model.class_names;
    out_path(p1, sizeof p1, ev, "confusion-", ".csv");
    out_path(p2, sizeof p2, ev, "errors-", ".csv");
    out_path(p3, sizeof p3, ev, "per_class_", ".csv");
    return write_confusion_csv(p1, &ev->cm, names, e) || write_errors_csv(p2, &ev->cm, names, 20, e) ||
           write_per_class(ev, p3, e) ? -1 : 0;
}

/* ---- the chart (optional: gnuplot and the script must be there) ---- */

static int executable_on_path(const char *name) {
    const char *path = getenv("PATH");
    char buf[1200];
    while (path && *path) {
        const char *end = strchr(path, ':');
        int len = end ? (int)(end - path) : (int)strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", len, path, name);
        if (access(buf, X_OK) == 0) return 1;
        path = end ? end + 1 : NULL;
    }
    return 0;
}

/* plots/per_class_accuracy.gp: $TL_PLOTS_DIR, ./plots, the source tree above a build
 * folder (build/trainer/trainer), an install's share/resnet-sweep/plots, or the source
 * tree this file was compiled from (CMake passes absolute paths, so __FILE__ is one). */
static int find_plot_script(char *out, size_t n) {
    enum { N_CANDIDATES = 5 };
    char exe[1024] = "", src[1024], candidates[N_CANDIDATES][1200];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(src, sizeof src, "%s", __FILE__);
    char *tail = strstr(src, "trainer/cli/cmd_evaluate.c");
    if (tail) *tail = 0;
    const char *env = getenv("TL_PLOTS_DIR");
    snprintf(candidates[0], sizeof candidates[0], "%s/per_class_accuracy.gp", env ? env : "/nonexistent");
    snprintf(candidates[1], sizeof candidates[1], "plots/per_class_accuracy.gp");
    snprintf(candidates[2], sizeof candidates[2], "%s/../../plots/per_class_accuracy.gp", exe);
    snprintf(candidates[3], sizeof candidates[3], "%s/../share/resnet-sweep/plots/per_class_accuracy.gp", exe);
    snprintf(candidates[4], sizeof candidates[4], "%splots/per_class_accuracy.gp", tail && src[0] == '/' ? src : "/nonexistent/");
    for (int i = 0; i < N_CANDIDATES; i++)
        if (fs_exists(candidates[i])) { snprintf(out, n, "%s", candidates[i]); return 0; }
    return -1;
}

/* A gnuplot single-quoted string: ' doubled. */
static void gp_string(char *buf, size_t n, const char *s) {
    size_t k = 0;
    if (k + 1 < n) buf[k++] = '\'';
    for (; *s && k + 3 < n; s++) {
        if (*s == '\'') buf[k++] = '\'';
        buf[k++] = *s;
    }
    buf[k++] = '\'';
    buf[k] = 0;
}

static int run_gnuplot(const char *script, const char *vars, Err *e) {
    pid_t pid = fork();
    if (pid < 0) return err_fail(e, "fork failed");
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", "-e", vars, script, (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return err_fail(e, "waitpid failed");
    if (!WIFEXITED(status) || WEXITSTATUS(status)) return err_fail(e, "gnuplot %s failed (status %d)", script, status);
    return 0;
}

/* Renders the PNG to a temp name and renames it, so a PNG is always whole. */
static int plot_per_class(const Evaluation *ev, char *png, size_t n, Err *e) {
    char script[1200], csv[1200], tmp[1300], trial[256], title[512];
    if (!executable_on_path("gnuplot")) return err_fail(e, "gnuplot not found on PATH");
    if (find_plot_script(script, sizeof script)) return err_fail(e, "plots/per_class_accuracy.gp not found (set TL_PLOTS_DIR)");
    out_path(csv, sizeof csv, ev, "per_class_", ".csv");
    out_path(png, n, ev, "per_class_accuracy_", ".png");
    snprintf(tmp, sizeof tmp, "%s.tmp.%d.png", png, (int)getpid());
    trial_name_from_dir(ev->model.run_dir, trial, sizeof trial);
    snprintf(title, sizeof title, "%s: per-class accuracy on %s (%d images, top-1 %.4f, best epoch %d)", trial,
             ev->args->split, ev->split->n, ev->scores.accuracy, ev->model.epoch);
    char q_csv[2500], q_out[2700], q_title[1100], vars[7000];
    gp_string(q_csv, sizeof q_csv, csv);
    gp_string(q_out, sizeof q_out, tmp);
    gp_string(q_title, sizeof q_title, title);
    snprintf(vars, sizeof vars, "csv=%s; out=%s; title=%s; overall=%.9g", q_csv, q_out, q_title, ev->scores.accuracy);
    if (run_gnuplot(script, vars, e)) { unlink(tmp); return -1; }
    if (rename(tmp, png)) { unlink(tmp); return err_fail(e, "%s: cannot rename to %s", tmp, png); }
    return 0;
}

/* ---- summary ---- */

static void print_summary(const Evaluation *ev) {
    const TrainedModel *m = &ev->model;
    printf("%s  split %s: %d images, %d classes, best epoch %d\n", m->run_dir, ev->args->split, ev->split->n, m->n_classes,
           m->epoch);
    printf("  loss      %.9g\n  accuracy  %.9g\n  top5      %.9g\n", ev->scores.loss, ev->scores.accuracy, ev->scores.top5);
    printf("  features  %s\n", strcmp(ev->model.cfg.model.trainable, "head") ? "computed through the fine-tuned backbone"
                                : ev->fx.images_done == 0                    ? "from the feature cache"
                                                                             : "computed (not in the cache)");
    ConfusedPair *pairs = NULL;
    int n = confusion_pairs(&ev->cm, &pairs, NULL);
    if (n > 0) printf("  most confused (true -> predicted):\n");
    for (int i = 0; i < n && i < 5; i++)
        printf("    %4ld  %s -> %s\n", pairs[i].count, m->class_names[pairs[i].t], m->class_names[pairs[i].p]);
    free(pairs);
    printf("  wrote confusion-%s.csv, errors-%s.csv, per_class_%s.csv\n", ev->args->split, ev->args->split, ev->args->split);
}

static int run(Evaluation *ev, Err *e) {
    const TrialConfig *c = &ev->model.cfg;
    if (dataset_open(&c->data, config_cache_seed(c), &ev->ds, e)) return err_context(e, "data.root of %s", ev->model.config_path);
    if (check_classes(ev, e) || load_features(ev, e) || confusion_create(&ev->cm, ev->model.n_classes, e)) return -1;
    head_evaluate(&ev->model.head, &ev->model.cfg, ev->x, ev->y, ev->split->n, &ev->scores, &ev->cm);
    if (write_outputs(ev, e)) return -1;
    print_summary(ev);
    if (!ev->args->plots) return 0;
    char png[1200];
    Err pe = {{0}};
    if (plot_per_class(ev, png, sizeof png, &pe)) fprintf(stderr, "trainer evaluate: --plots: %s; no chart drawn\n", pe.msg);
    else printf("  wrote %s\n", png);
    return 0;
}

static void evaluation_free(Evaluation *ev) {
    confusion_free(&ev->cm);
    free(ev->x);
    free(ev->y);
    trial_entries_free(&ev->te);
    feature_extractor_free(&ev->fx);
    backend_destroy(ev->be);
    dataset_free(&ev->ds);
    trained_model_free(&ev->model);
}

int cmd_evaluate(int argc, char **argv) {
    EvaluateArgs a;
    int usage = parse(argc, argv, &a);
    if (usage) return usage > 0 ? 0 : 2;
    Evaluation ev;
    memset(&ev, 0, sizeof ev);
    ev.args = &a;
    Err e = {{0}};
    if (trained_model_load(&ev.model, a.trial.run, 0, &e)) {
        fprintf(stderr, "trainer evaluate: %s\n", e.msg);
        return 2;
    }
    int rc = run(&ev, &e);
    if (rc) fprintf(stderr, "trainer evaluate: %s\n", e.msg);
    evaluation_free(&ev);
    return rc ? 1 : 0;
}
