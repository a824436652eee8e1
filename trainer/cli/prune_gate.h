/* `trainer train --prune-fd N`: the trainer's side of the sweep's early stopping. N is a
 * connected AF_UNIX stream socket the sweep's rank holds the other end of. After each epoch
 * whose train_log.csv row and last.safetensors are written (when the trial would go on),
 * and once after a resume for its last logged epoch, the trainer sends one line and waits
 * for one line back:
 *   trainer -> rank   "epoch E\n"                 E: 0-based, the train_log.csv row just written
 *   rank -> trainer   "continue\n" | "stop\n"     stop: the trial ends now with status pruned
 * The rank reads the value the decision is made on from that train_log.csv row, so a
 * replay of the logs after a kill sees exactly the numbers the live decisions saw. While it
 * waits, the trainer still obeys SIGINT/SIGTERM (interrupted, as always). A closed socket or
 * a reply it does not understand is logged and read as "continue", and nothing more is
 * asked: the trial then runs its whole budget. */
#ifndef TL_PRUNE_GATE_H
#define TL_PRUNE_GATE_H

#include <signal.h>
#include <stdio.h>

typedef struct PruneGate {
    int fd;                         /* the socket; -1 = no gate */
    volatile sig_atomic_t *stop;    /* SIGINT/SIGTERM flag */
    FILE *log;                      /* where a broken link is reported */
    int broken;                     /* the link failed once: never asked again */
} PruneGate;

/* TrialOptions.between_epochs over the socket (ctx: a PruneGate). */
int prune_gate_ask(void *ctx, int epoch);

#endif
