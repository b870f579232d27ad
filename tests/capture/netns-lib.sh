# netns-lib.sh: shell helpers shared by make-corpus.sh and make-paths.sh (sourced, not
# run). Namespaces es-cli / es-srv / es-prx joined by veth pairs (MTU 1500, offloads
# off, permanent neighbours), background processes tracked by PID, tcpdump with a drop
# check, and a cleanup trap that removes all of it. See tests/capture/README.md.
#
# The sourcing script sets LOG_TAG (its name, for messages) before sourcing, then calls
# netns_init once it has parsed its arguments: that makes the temporary directory
# $WORK (prefix $1) and installs the cleanup trap.

CLI_NS=es-cli SRV_NS=es-srv PRX_NS=es-prx
CLI4=10.231.0.1 SRV4=10.231.0.2 CLI6=fd00:e5::1 SRV6=fd00:e5::2
PCLI4=10.231.1.1 PRX4=10.231.1.2 PUP4=10.231.2.1 PSRV4=10.231.2.2

log() { printf '%s: %s\n' "${LOG_TAG:-netns-lib}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# need_tools TOOL...: fail unless every TOOL is on PATH; ethtool is installed if absent.
need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "missing $tool"
    done
    if ! command -v ethtool >/dev/null; then
        log "ethtool missing, installing it with apt-get"
        apt-get install -y -q ethtool >/dev/null || die "cannot install ethtool"
    fi
}

declare -A BG=()          # pid -> what it is, for every process still running
CAP_DROPS=0

# netns_init PREFIX: make $WORK and install the cleanup trap.
netns_init() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$WORK"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# ------------------------------------------------------------------ process helpers

# bg NS NAME CMD...: start CMD inside namespace NS in the background, log to
# $WORK/NAME.log; the pid is left in $BG_PID. `ip netns exec` execs CMD, so the pid is
# the command's own.
bg() {
    local ns=$1 name=$2; shift 2
    ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
    BG_PID=$!
    BG[$BG_PID]=$name
}

# stop PID [SIGNAL]: signal one process we started and wait for it to go.
stop() {
    local pid=$1 sig=${2:-TERM}
    [[ -n ${BG[$pid]:-} ]] || return 0
    kill -s "$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "BG[$pid]"
}

# stop_pidfile FILE: stop a daemon that forked away from us (its pid is in FILE, which
# it wrote itself); only used for daemons that cannot stay in the foreground.
stop_pidfile() {
    local pid i
    [[ -s $1 ]] || return 0
    pid=$(cat "$1")
    kill -s TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    log "warning: pid $pid (from $1) did not stop"
}

cleanup() {
    local rc=$? pid f
    trap - EXIT INT TERM
    for pid in "${!BG[@]}"; do
        kill -s TERM "$pid" 2>/dev/null || true
    done
    for pid in "${!BG[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for f in "${PIDFILES[@]}"; do
        stop_pidfile "$f"
    done
    for ns in "$CLI_NS" "$SRV_NS" "$PRX_NS"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    if [[ $rc -ne 0 && $rc -ne 3 ]]; then
        log "failed (exit $rc); logs of the last case:"
        tail -n 5 "$WORK"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
PIDFILES=()               # pid files of forking daemons still running (stop_pidfile)

# wait_listen NS PORT: until something listens on PORT inside NS (5 s at most; a
# third argument gives another limit in 50 ms steps).
wait_listen() {
    local ns=$1 port=$2 n=${3:-100} i
    for i in $(seq "$n"); do
        ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
        sleep 0.05
    done
    die "nothing listens on port $port in $ns"
}

# cap_start NS IFACE FILE [FILTER]: one tcpdump per capture, started before the
# scenario and stopped with SIGINT afterwards. --immediate-mode so that nothing waits
# in the kernel ring when SIGINT comes; -B 32 MiB because in immediate mode the ring's
# slots are sized for the interface MTU (64 KiB on "any", which includes lo) and the
# default 2 MiB then holds ~30 packets; -Z root keeps the file root-owned. A capture
# the kernel dropped packets from is taken again (CAP_DROPS). Several captures may run
# at once (cap_stop stops them all); their logs are tcpdump.log, tcpdump2.log, ...
# CAP_SNAPLEN (default 0: whole packets) is the snap length of the next cap_start.
CAP_PIDS=()
cap_start() {
    local ns=$1 ifc=$2 file=$3 i name=tcpdump
    shift 3
    [[ ${#CAP_PIDS[@]} -eq 0 ]] || name=tcpdump$((${#CAP_PIDS[@]} + 1))
    bg "$ns" "$name" tcpdump -i "$ifc" -s "${CAP_SNAPLEN:-0}" -B 32768 -U --immediate-mode \
        -Z root \
        -w "$file" "$@"
    CAP_PIDS+=("$BG_PID:$name")
    for i in $(seq 100); do
        grep -qs 'listening on' "$WORK/$name.log" && break
        sleep 0.05
    done
    grep -q 'listening on' "$WORK/$name.log" || die "tcpdump did not start"
    sleep 0.2
}
cap_stop() {
    sleep 0.3
    local x pid name n
    for x in "${CAP_PIDS[@]}"; do
        pid=${x%%:*} name=${x#*:}
        stop "$pid" INT
        n=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$WORK/$name.log")
        [[ -n $n ]] || die "tcpdump did not report its drop count"
        CAP_DROPS=$((CAP_DROPS + n))
    done
    CAP_PIDS=()
}

cli() { ip netns exec "$CLI_NS" "$@" 2>>"$WORK/client.log"; }
curl_cli() { cli curl -sS -o /dev/null "$@"; }

# ------------------------------------------------------------------ namespaces

# link NS_A IF_A NS_B IF_B: a veth pair, MTU 1500, offloads and tx checksum offload off
# (so captured segments are wire-sized and carry correct checksums).
link() {
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
    local x
    for x in "$1 $2" "$3 $4"; do
        set -- $x
        ip -n "$1" link set "$2" mtu 1500
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null
        ip -n "$1" link set "$2" up
    done
}

# neigh NS IF ADDR PEER_NS PEER_IF: permanent neighbour entry, so captures hold no
# ARP/ND exchange at their start.
neigh() {
    local mac
    mac=$(ip netns exec "$4" cat "/sys/class/net/$5/address")
    ip -n "$1" neigh replace "$3" lladdr "$mac" dev "$2" nud permanent
}

setup_netns() {
    local ns
    for ns in "$CLI_NS" "$SRV_NS" "$PRX_NS"; do
        ip netns del "$ns" 2>/dev/null || true      # left over by a killed run
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0 \
            net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.dad_transmits=0
    done
    # client <-> server, direct
    link "$CLI_NS" es-c0 "$SRV_NS" es-s0
    ip -n "$CLI_NS" addr add "$CLI4/24" dev es-c0
    ip -n "$SRV_NS" addr add "$SRV4/24" dev es-s0
    ip -n "$CLI_NS" addr add "$CLI6/64" dev es-c0 nodad
    ip -n "$SRV_NS" addr add "$SRV6/64" dev es-s0 nodad
    # client <-> proxy (10.231.1.0/24) and proxy <-> server (10.231.2.0/24)
    link "$CLI_NS" es-c1 "$PRX_NS" es-p0
    link "$PRX_NS" es-p1 "$SRV_NS" es-s1
    ip -n "$CLI_NS" addr add "$PCLI4/24" dev es-c1
    ip -n "$PRX_NS" addr add "$PRX4/24" dev es-p0
    ip -n "$PRX_NS" addr add "$PUP4/24" dev es-p1
    ip -n "$SRV_NS" addr add "$PSRV4/24" dev es-s1
    neigh "$CLI_NS" es-c0 "$SRV4" "$SRV_NS" es-s0
    neigh "$SRV_NS" es-s0 "$CLI4" "$CLI_NS" es-c0
    neigh "$CLI_NS" es-c0 "$SRV6" "$SRV_NS" es-s0
    neigh "$SRV_NS" es-s0 "$CLI6" "$CLI_NS" es-c0
    neigh "$CLI_NS" es-c1 "$PRX4" "$PRX_NS" es-p0
    neigh "$PRX_NS" es-p0 "$PCLI4" "$CLI_NS" es-c1
    neigh "$PRX_NS" es-p1 "$PSRV4" "$SRV_NS" es-s1
    neigh "$SRV_NS" es-s1 "$PUP4" "$PRX_NS" es-p1
    sleep 2.5    # let link-up IPv6 multicast reports go by before the first capture
}
