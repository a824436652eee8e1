#!/usr/bin/env python3
"""Optuna's TPE on the synthetic objectives of tests/unit/test_sweep_tpe.c, for the README's
reference column: the mean number of trials until one lands in the optimum's
neighbourhood (budget 400), independent TPE (multivariate=False, as sweep/tpe.c) and
random search, over N seeds. Optuna is not a dependency of this project:
    python3 -m venv /tmp/optuna && /tmp/optuna/bin/pip install optuna
    /tmp/optuna/bin/python tests/tools/tpe_optuna_reference.py [SEEDS]
Compare with: TPE_SEEDS=SEEDS build/tests/test_sweep_tpe"""
import math
import statistics
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def draws_to_hit(space, f, hit, sampler, budget=400):
    study = optuna.create_study(sampler=sampler)
    for t in range(budget):
        trial = study.ask()
        x = space(trial)
        study.tell(trial, f(x))
        if hit(x):
            return t + 1
    return budget + 1


CASES = [
    ("1-D", lambda t: [float("%.4g" % t.suggest_float("x", -10, 10))],
     lambda x: (x[0] - 2) ** 2, lambda x: abs(x[0] - 2) <= 0.1),
    ("2-D", lambda t: [t.suggest_float("lr", 1e-5, 1e-1, log=True), t.suggest_float("d", 0, 1)],
     lambda x: (math.log10(x[0]) + 3) ** 2 + 4 * (x[1] - 0.3) ** 2,
     lambda x: abs(math.log10(x[0]) + 3) <= 0.1 and abs(x[1] - 0.3) <= 0.05),
    ("mixed", lambda t: [t.suggest_int("n", 1, 100), t.suggest_categorical("c", list(range(8)))],
     lambda x: abs(x[0] - 37) / 10 + (x[1] != 5), lambda x: abs(x[0] - 37) <= 2 and x[1] == 5),
]

if __name__ == "__main__":
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for name, space, f, hit in CASES:
        tpe = [draws_to_hit(space, f, hit, optuna.samplers.TPESampler(seed=s, multivariate=False)) for s in range(seeds)]
        rnd = [draws_to_hit(space, f, hit, optuna.samplers.RandomSampler(seed=s)) for s in range(seeds)]
        print(f"{name}: optuna {optuna.__version__}, {seeds} seeds: tpe {statistics.mean(tpe):.1f}, random {statistics.mean(rnd):.1f}")
        sys.stdout.flush()
