# Sourced first by every tests/cluster/test_*.sh: the programs ctest names (TRAINER, SWEEP_BIN,
# TL_SOURCE_DIR), the check counters, the test-host and Slurm helpers, and what the tests share.
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
source "$TL_SOURCE_DIR/tests/cluster/lib.sh"
source "$TL_SOURCE_DIR/tests/cluster/slurm-lib.sh"
export TRAINER SWEEP_BIN CLUSTER_TIMEOUT=300
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skipped: no Fashion-MNIST (dataset-fashion-mnist)"; exit 77; }

# skip_unless CHECK: exit 77 (ctest: skipped) with CHECK's reason when CHECK fails
# (cluster_can_run, slurm_can_run).
skip_unless() { local why; why=$("$1") || { echo "skipped: $why"; exit 77; }; }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s; 1 when it never succeeded.
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}
