/* An edited sweep file must never fold trials run with the old values into a report of the
 * new ones. Rank 0, holding the sweep's lock, before anything runs: every trial of the sweep
 * (in the scope of --only or not: the summary covers them all) whose folder holds results
 * of a run is compared with the config.yaml it ran with (train/trial_folder.h). When the
 * file would change any of them, the run is refused (exit 2) with the list of trials and
 * keys (OLD -> NEW), unless --rerun-changed: then each changed trial's folder is set aside
 * as <trial>.old-N and the trial runs again (now, if --only selects it; else it is pending).
 * --rename NEW never gets here with changes (a new folder has none). Trials that never ran
 * take the new values freely. A tpe sweep's later draws depend on the changed trials'
 * results: it is refused --rerun-changed (use --rename). */
#ifndef SWEEP_CHANGED_TRIALS_H
#define SWEEP_CHANGED_TRIALS_H

#include <stdio.h>

#include "sweep_run.h"

/* 0 when the run may go on; -1 when refused (the list is printed on `out`, e says what to do)
 * or when setting a folder aside failed. */
int plan_check_changes(SweepPlan *p, const SweepArgs *a, FILE *out, Err *e);
/* Trial folders in the sweep folder that the file no longer has (an edit changed an axis
 * value or a random sweep's draws; not the .old-N ones): left as they are, outside the summary. */
int plan_count_strays(const SweepPlan *p);
/* For --dry-run: prints the trials the file would change (nothing when none); returns their count. */
int plan_print_changes(const SweepPlan *p, FILE *out);

#endif
