# A one-node Slurm cluster for tests, from Debian's packages (munge, slurmctld, slurmd,
# slurm-client): its key, sockets, state and logs all under one private folder, its daemons
# on this machine only (127.0.0.1), stopped by PID. Source it, then:
#   slurm_up DIR     writes DIR/slurm.conf (this machine's CPUs), starts munged, slurmctld and
#                    slurmd, exports SLURM_CONF; waits until the node takes jobs
#   slurm_down       stops the three daemons (slurm_up installs it in the EXIT trap's chain)
# The clients (sbatch, srun, scancel, squeue) then talk to this cluster through SLURM_CONF.

# slurm_can_run: 0 when the programs are there; else prints why.
slurm_can_run() {
    local p
    for p in munged mungekey slurmctld slurmd sbatch srun scancel squeue; do
        command -v $p >/dev/null || { echo "$p not installed (scripts/install-deps installs Slurm and munge)"; return 1; }
    done
    [ "$(id -u)" -eq 0 ] || { echo "the test Slurm runs its daemons as root"; return 1; }
    [ -e /usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix.so ] || ls /usr/lib/*/slurm-wlm/mpi_pmix.so >/dev/null 2>&1 ||
        { echo "Slurm's PMIx plugin (mpi_pmix.so) is missing"; return 1; }
}

_slurm_port() {  # a free TCP port on 127.0.0.1 in 20000-29999
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 10000))
        ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && { echo $p; return; }
    done
    return 1
}

slurm_up() {
    SLURM_DIR=$1
    mkdir -p "$SLURM_DIR"/{munge,ctld,spool}
    chmod 0700 "$SLURM_DIR" "$SLURM_DIR/munge"
    mungekey -c -k "$SLURM_DIR/munge/munge.key" -f
    munged --force --socket="$SLURM_DIR/munge/sock" --key-file="$SLURM_DIR/munge/munge.key" \
        --pid-file="$SLURM_DIR/munge/pid" --log-file="$SLURM_DIR/munge/log" --seed-file="$SLURM_DIR/munge/seed" || return 1
    SLURM_MUNGE_PID=$(cat "$SLURM_DIR/munge/pid")
    local ctld_port d_port host cpus
    ctld_port=$(_slurm_port) && d_port=$(_slurm_port) || return 1
    host=$(hostname -s); cpus=$(nproc)
    cat > "$SLURM_DIR/slurm.conf" <<CONF
ClusterName=tltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge/sock
StateSaveLocation=$SLURM_DIR/ctld
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/ctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/ctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdTimeout=30
KillWait=20
NodeName=tlnode NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=tlnode Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    export SLURM_CONF=$SLURM_DIR/slurm.conf
    slurmctld -D -i -f "$SLURM_CONF" > "$SLURM_DIR/ctld.out" 2>&1 &
    SLURM_CTLD_PID=$!
    slurmd -D -N tlnode -f "$SLURM_CONF" > "$SLURM_DIR/slurmd.out" 2>&1 &
    SLURM_D_PID=$!
    local k
    for k in $(seq 150); do
        sinfo -h -o %t 2>/dev/null | grep -qx 'idle' && return 0
        sleep 0.2
    done
    echo "slurm_up: the node did not become idle; sinfo says: $(sinfo -h -o %t 2>&1)" >&2
    tail -5 "$SLURM_DIR/ctld.log" "$SLURM_DIR/slurmd.log" >&2
    return 1
}

slurm_down() {
    local pid
    for pid in ${SLURM_D_PID:-} ${SLURM_CTLD_PID:-} ${SLURM_MUNGE_PID:-}; do
        kill "$pid" 2>/dev/null
    done
    for pid in ${SLURM_D_PID:-} ${SLURM_CTLD_PID:-} ${SLURM_MUNGE_PID:-}; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    SLURM_D_PID= SLURM_CTLD_PID= SLURM_MUNGE_PID=
}
