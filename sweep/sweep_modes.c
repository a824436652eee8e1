/* The modes that need no MPI: --dry-run and --aggregate. */
#include "sweep_run.h"

#include <stdlib.h>
#include <string.h>

#include "cost.h"

/* Under mpirun every rank runs these; only rank 0 prints. */
static int is_rank0(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v) return atoi(v) == 0;
    }
    return 1;
}

/* The cost lines of a dry run; 2 when the cache would not fit its limit. A plan that cannot
 * be made is said (the trials would report why) and is no error of the sweep file. */
static int dry_run_cost(const SweepPlan *p, const SweepArgs *a, const int *todo, int n_todo) {
    SweepCost c;
    Err e;
    int ok = cost_plan(&c, p, todo, n_todo, a->threads, 0, &e) == 0;
    if (ok) cost_measure(&c, p);
    cost_free(&c);
    if (!ok) { printf("cost: unknown (%s)\n", e.msg); return 0; }
    cost_print(&c, stdout, "");
    if (!cost_check_limit(&c, &e)) return 0;
    fprintf(stderr, "sweep: %s\n", e.msg);
    return 2;
}

int sweep_dry_run(const SweepArgs *a) {
    SweepPlan p;
    Err e;
    int code = 0;
    if (plan_load(&p, a, 1, &e)) {
        if (is_rank0()) fprintf(stderr, "sweep: %s\n", e.msg);
        plan_free(&p);
        return 2;
    }
    if (is_rank0()) {
        char what[2048];
        int todo[p.capacity + 1], fallback = 0;
        for (int t = 0; t < p.ts.n; t++) fallback |= p.ts.trials[t].weights_fallback;
        sweep_spec_describe(&p.spec, p.ts.n, what, sizeof what);
        printf("sweep %s (%s): %s; %d feature cache group%s\noutput: %s\n", p.spec.name, p.spec.file, what,
               p.ts.n_cache_groups, p.ts.n_cache_groups == 1 ? "" : "s", p.sweep_dir);
        if (fallback)
            printf("note: model.weights not found; trials use weights_fallback %s (%s:%d)\n", p.spec.weights_fallback,
                   p.spec.file, p.spec.weights_fallback_line);
        plan_print_table(&p, stdout);
        int n_todo = plan_todo(&p, a, todo);
        printf("%d trial%s to run (dry run: nothing was run)\n", n_todo, n_todo == 1 ? "" : "s");
        if (p.spec.method == METHOD_TPE && p.spec.n_trials > p.ts.n)
            printf("then %ld more drawn adaptively by TPE as results come in (recorded in %s/study.csv)\n",
                   p.spec.n_trials - p.ts.n, p.sweep_dir);
        code = dry_run_cost(&p, a, todo, n_todo);
    }
    plan_free(&p);
    return code;
}

int sweep_aggregate_only(const SweepArgs *a) {
    SweepPlan p;
    Err e;
    int rc = 0;
    if (plan_load(&p, a, 0, &e)) {
        fprintf(stderr, "sweep: %s\n", e.msg);
        rc = 2;
    } else if (plan_aggregate(&p, &e)) {
        fprintf(stderr, "sweep: %s\n", e.msg);
        rc = 1;
    } else {
        printf("sweep: wrote %s/summary.csv and %s/report.md (%d trials, %d failed)\n", p.sweep_dir, p.sweep_dir,
               p.ts.n, plan_count_failed(&p));
    }
    plan_free(&p);
    return rc;
}
