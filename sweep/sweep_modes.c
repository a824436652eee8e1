/* The modes that need no MPI: --dry-run and --aggregate. */
#include "sweep_run.h"

#include <stdlib.h>
#include <string.h>

#include "changed_trials.h"

/* Under mpirun every rank runs these; only rank 0 prints. */
static int is_rank0(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v) return atoi(v) == 0;
    }
    return 1;
}

int sweep_dry_run(const SweepArgs *a) {
    SweepPlan p;
    Err e;
    if (plan_load(&p, a, 1, &e)) {
        if (is_rank0()) fprintf(stderr, "sweep: %s\n", e.msg);
        plan_free(&p);
        return 2;
    }
    if (is_rank0()) {
        char what[2048];
        int todo[p.ts.n + 1], fallback = 0;
        for (int t = 0; t < p.ts.n; t++) fallback |= p.ts.trials[t].weights_fallback;
        sweep_spec_describe(&p.spec, p.ts.n, what, sizeof what);
        printf("sweep %s (%s): %s; %d feature cache group%s\noutput: %s\n", p.spec.name, p.spec.file, what,
               p.ts.n_cache_groups, p.ts.n_cache_groups == 1 ? "" : "s", p.sweep_dir);
        if (fallback)
            printf("note: model.weights not found; trials use weights_fallback %s (%s:%d)\n", p.spec.weights_fallback,
                   p.spec.file, p.spec.weights_fallback_line);
        plan_print_table(&p, stdout);
        plan_print_changes(&p, stdout);
        printf("%d trial%s to run (dry run: nothing was run)\n", plan_todo(&p, a->retry_failed, todo),
               plan_todo(&p, a->retry_failed, todo) == 1 ? "" : "s");
        if (p.spec.method == METHOD_TPE && p.spec.n_trials > p.ts.n)
            printf("then %ld more drawn adaptively by TPE as results come in (recorded in %s/study.csv)\n",
                   p.spec.n_trials - p.ts.n, p.sweep_dir);
    }
    plan_free(&p);
    return 0;
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
