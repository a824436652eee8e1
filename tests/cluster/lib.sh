# Test hosts on one machine: each host is a network namespace (its own veth address on a
# bridge in a private test subnet), a UTS namespace (its own hostname) and a mount
# namespace (its own /etc/hosts, and optionally a private tmpfs as node-local scratch).
# Open MPI reaches the hosts through its rsh launcher with tests/cluster/rsh-agent (which
# enters a host's namespaces; no sshd), and MPI runs over TCP between the hosts only.
# Needs root. Source it, then:
#   cluster_up N [--scratch DIR]   makes hosts h1..hN; DIR (absolute) becomes a private
#                                  tmpfs on each host (node-local scratch)
#   cluster_exec HOST CMD...       runs CMD on HOST (in the current directory)
#   cluster_mpirun MPIRUN-ARGS...  mpirun on h1 with the launcher and TCP settings (ended
#                                  after CLUSTER_TIMEOUT seconds, default 600)
#   cluster_kill_host HOST         kill -9 every process on HOST (the host stays up)
#   cluster_signal HOST SIG NAME   sends SIG to HOST's processes named NAME (only this test's:
#                                  the hosts share the machine's PID space, so never pkill)
#   cluster_down                   removes everything (cluster_up installs it as an EXIT trap)
# Every address is in the test subnet 10.231.K.0/24, on a bridge inside a namespace of its
# own: nothing is added to the machine's own network stack, and no traffic leaves the
# namespaces. K is the first free slot under /run/tl-cluster (several tests may run at once).
# See tests/cluster/README.md.

CLUSTER_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# cluster_can_run: 0 when this machine can make the namespaces; else prints why.
cluster_can_run() {
    [ "$(id -u)" -eq 0 ] || { echo "needs root to make network namespaces"; return 1; }
    command -v ip >/dev/null && command -v unshare >/dev/null && command -v nsenter >/dev/null ||
        { echo "needs ip (iproute2), unshare and nsenter (util-linux)"; return 1; }
    local probe="tlprobe$$"
    ip netns add "$probe" 2>/dev/null || { echo "cannot create a network namespace (ip netns add)"; return 1; }
    ip netns del "$probe"
    unshare --uts --mount true 2>/dev/null || { echo "cannot create UTS/mount namespaces (unshare)"; return 1; }
}

_cluster_slot() {
    mkdir -p /run/tl-cluster
    local k
    for k in $(seq 1 250); do
        # a slot whose owner died is taken over
        if [ -d /run/tl-cluster/$k ] && ! kill -0 "$(cat /run/tl-cluster/$k/owner 2>/dev/null || echo 0)" 2>/dev/null; then
            rm -rf /run/tl-cluster/$k
            ip netns list 2>/dev/null | awk '{print $1}' | grep "^tlc$k-" | xargs -r -n1 ip netns del 2>/dev/null
        fi
        if mkdir /run/tl-cluster/$k 2>/dev/null; then echo $$ > /run/tl-cluster/$k/owner; echo "$k"; return 0; fi
    done
    return 1
}

# _cluster_host_up I: namespace, veth to the switch, address, hostname, hosts file, scratch.
_cluster_host_up() {
    local i=$1 ns="tlc$CLUSTER_SLOT-h$1" st=$CLUSTER_STATE
    ip netns add "$ns"
    ip link add "v$CLUSTER_SLOT-$i" netns "$ns" type veth peer name "p$i" netns "$CLUSTER_SWITCH"
    ip -n "$CLUSTER_SWITCH" link set "p$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "v$CLUSTER_SLOT-$i" name eth0
    ip -n "$ns" addr add "$CLUSTER_NET.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    # The holder process keeps the UTS and mount namespaces alive; everything on the host
    # is started inside its namespaces (nsenter -t holder).
    ip netns exec "$ns" unshare --uts --mount --propagation private -- sh -c '
        hostname "$1" && mount --bind "$2/hosts" /etc/hosts || exit 1
        if [ -n "$3" ]; then mkdir -p "$3" && mount -t tmpfs -o size=1g,mode=1777 tmpfs "$3" || exit 1; fi
        touch "$2/$1.ready"; exec sleep infinity' sh "h$i" "$st" "$CLUSTER_SCRATCH" &
    echo $! > "$st/h$i.pid"
    disown $!
}

cluster_up() {
    local n=$1 i
    shift
    CLUSTER_SCRATCH=""
    while [ $# -gt 0 ]; do
        case $1 in
            --scratch) CLUSTER_SCRATCH=$2; shift 2 ;;
            *) echo "cluster_up: unknown option $1" >&2; return 1 ;;
        esac
    done
    CLUSTER_SLOT=$(_cluster_slot) || { echo "cluster_up: no free slot under /run/tl-cluster" >&2; return 1; }
    CLUSTER_NET=10.231.$CLUSTER_SLOT
    CLUSTER_SUBNET=$CLUSTER_NET.0/24
    CLUSTER_SWITCH=tlc$CLUSTER_SLOT-sw
    CLUSTER_STATE=/run/tl-cluster/$CLUSTER_SLOT
    CLUSTER_N=$n
    CLUSTER_HOSTS=""
    export CLUSTER_SLOT CLUSTER_NET CLUSTER_SUBNET CLUSTER_STATE CLUSTER_N CLUSTER_SCRATCH
    trap cluster_down EXIT
    ip netns add "$CLUSTER_SWITCH" || return 1
    ip -n "$CLUSTER_SWITCH" link add br0 type bridge
    ip -n "$CLUSTER_SWITCH" link set br0 up
    {
        echo "127.0.0.1 localhost"
        for i in $(seq "$n"); do echo "$CLUSTER_NET.$((10 + i)) h$i"; done
    } > "$CLUSTER_STATE/hosts"
    for i in $(seq "$n"); do _cluster_host_up "$i" || return 1; CLUSTER_HOSTS+="${CLUSTER_HOSTS:+ }h$i"; done
    export CLUSTER_HOSTS
    for i in $(seq "$n"); do
        local k
        for k in $(seq 100); do [ -e "$CLUSTER_STATE/h$i.ready" ] && break; sleep 0.05; done
        [ -e "$CLUSTER_STATE/h$i.ready" ] || { echo "cluster_up: host h$i did not come up" >&2; return 1; }
    done
}

# cluster_exec HOST CMD...: CMD in HOST's namespaces, in the current directory, same environment.
cluster_exec() {
    local holder
    holder=$(cat "$CLUSTER_STATE/$1.pid") || return 255
    shift
    nsenter -t "$holder" --net --uts --mount -- sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$(pwd)" "$@"
}

# The MPI settings of a run across the test hosts: rsh launcher through our agent, TCP
# between hosts only (no shared memory, no RDMA), on the test subnet, no core binding
# (the hosts share this machine's cores).
cluster_mpi_args() {
    echo "--mca plm_rsh_agent $CLUSTER_LIB_DIR/rsh-agent --mca pml ob1 --mca btl tcp,self" \
         "--mca btl_tcp_if_include $CLUSTER_SUBNET --mca oob_tcp_if_include $CLUSTER_SUBNET --bind-to none"
}

# cluster_mpirun ARGS...: mpirun on h1, ended (SIGTERM, then SIGKILL 10 s later) after
# CLUSTER_TIMEOUT seconds (default 600) so that a hung job cannot hang a test.
cluster_mpirun() {
    # shellcheck disable=SC2046
    cluster_exec h1 env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
        timeout -k 10 "${CLUSTER_TIMEOUT:-600}" mpirun $(cluster_mpi_args) "$@"
}

# cluster_pids HOST: every process on HOST but the namespace holder.
cluster_pids() {
    local holder
    holder=$(cat "$CLUSTER_STATE/$1.pid")
    ip netns pids "tlc$CLUSTER_SLOT-$1" | grep -vx "$holder"
}

cluster_kill_host() {
    local pids
    pids=$(cluster_pids "$1")
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null
    return 0
}

cluster_signal() {
    local pid
    for pid in $(cluster_pids "$1"); do
        [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$3" ] && kill -"$2" "$pid" 2>/dev/null
    done
    return 0
}

cluster_down() {
    [ -n "${CLUSTER_STATE:-}" ] || return 0
    local i pid
    for i in $(seq "${CLUSTER_N:-0}"); do
        cluster_kill_host "h$i" 2>/dev/null
        pid=$(cat "$CLUSTER_STATE/h$i.pid" 2>/dev/null) && kill -9 "$pid" 2>/dev/null
        ip netns del "tlc$CLUSTER_SLOT-h$i" 2>/dev/null
    done
    ip netns del "$CLUSTER_SWITCH" 2>/dev/null
    rm -rf "$CLUSTER_STATE"
    CLUSTER_STATE=""
}
