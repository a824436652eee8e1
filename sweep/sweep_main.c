/* sweep: runs a hyperparameter sweep of `trainer` trials, under mpirun or alone.
 * See sweep/README-sweep.md. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "sweep_run.h"

/* The one piece of global state: SIGINT/SIGTERM count, set by the handler and read
 * by the poll loop (which forwards the stop to the running trainer). */
static volatile sig_atomic_t stop_signals;

static void on_stop_signal(int sig) {
    (void)sig;
    if (stop_signals < 100) stop_signals++;
}

static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv) {
    SweepArgs args;
    Err e;
    if (sweep_args_parse(&args, argc, argv, &e)) {
        fprintf(stderr, "sweep: %s\n%s", e.msg, SWEEP_USAGE);
        return 2;
    }
    if (args.help) { fputs(SWEEP_USAGE, stdout); return 0; }
    if (args.status) return sweep_status(&args);
    if (args.aggregate) return sweep_aggregate_only(&args);
    if (args.dry_run) return sweep_dry_run(&args);
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "sweep: %s:%d: MPI_Init failed\n", __FILE__, __LINE__);
        return 1;
    }
    /* Errors come back as return codes, which MPI_CHECK turns into messages. */
    if (MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN) != MPI_SUCCESS) {
        fprintf(stderr, "sweep: %s:%d: MPI_Comm_set_errhandler failed\n", __FILE__, __LINE__);
        MPI_Finalize();
        return 1;
    }
    install_signal_handlers();   /* after MPI_Init, so MPI cannot replace them */
    int code = sweep_run_mpi(&args, &stop_signals);
    MPI_Finalize();
    return code;
}
