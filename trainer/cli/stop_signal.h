/* SIGINT/SIGTERM -> a flag that long work polls (after an epoch, between feature chunks).
 * The flag is the one piece of global state here, forced by the signal API. */
#ifndef TL_STOP_SIGNAL_H
#define TL_STOP_SIGNAL_H

#include <signal.h>

volatile sig_atomic_t *stop_signal_install(void);

#endif
