#!/usr/bin/env bash
# make-capture.sh: build a large benchmark capture from real software.
#
# Usage (as root): bench/make-capture.sh OUT.pcap [SIZE_MB]
#   SIZE_MB       stop once the capture holds at least this many MiB (default 1024)
#   environment:  MIN_CONNS=N  ...and at least N TCP connections (default 10 per MiB
#                              of SIZE_MB, so 10240 for 1 GiB)
#                 PAR=N        client jobs run at once (default 6)
#                 MAX_MIN=N    stop after N minutes of traffic even if short of the
#                              targets, and say so (default 25)
#
# Made like the test corpus (tests/capture/make-corpus.sh): two network namespaces
# created here (esb-cli, esb-srv) joined by one veth pair, MTU 1500, offloads off;
# no namespace has a route anywhere else. In esb-srv, started by hand with private
# configs in a temporary directory: nginx :80, bench/traffic.py :8081 (raw HTTP server),
# :9000 (non-HTTP TCP sink) and UDP :9999, bench/node-server.js :8082. In esb-cli, curl
# and python clients run in parallel (xargs -P) in rounds of ~880 connections / ~75 MB
# until the targets are reached. tcpdump -s 0 captures on the client's veth.
# Namespaces, processes (stopped by PID / process group id) and the temporary directory
# are removed on exit, also on failure or SIGINT. Write OUT under bench/out/
# (git-ignored); the capture is never committed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TRAFFIC="$HERE/traffic.py"
# the interpreter itself, not a wrapper (a pyenv shim would outlive a kill by PID)
PY=$(python3 -c 'import sys; print(sys.executable)')
NODESRV="$HERE/node-server.js"

CLI_NS=esb-cli SRV_NS=esb-srv
CLI4=10.232.0.1 SRV4=10.232.0.2

log() { printf 'make-capture: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -ge 1 && $# -le 2 && $1 != -* ]] || {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
OUT=$1
SIZE_MB=${2:-1024}
[[ $SIZE_MB =~ ^[0-9]+$ && $SIZE_MB -ge 1 ]] || die "SIZE_MB must be a positive integer"
MIN_CONNS=${MIN_CONNS:-$((SIZE_MB * 10))}
PAR=${PAR:-6}
MAX_MIN=${MAX_MIN:-25}
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for tool in ip tcpdump capinfos nginx curl python3 node shuf; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
[[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]] ||
    die "missing libnginx-mod-http-echo (nginx reads upload bodies with it)"
if ! command -v ethtool >/dev/null; then
    log "ethtool missing, installing it with apt-get"
    apt-get install -y -q ethtool >/dev/null || die "cannot install ethtool"
fi
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")

WORK=$(mktemp -d /tmp/expectscope-bench.XXXXXX)
chmod 755 "$WORK"
declare -A BG=()          # pid -> name, for every process still running
declare -A PGRP=()        # pid -> 1 when the pid leads its own process group (setsid)
CAP_PID=""

bg() {   # bg NS NAME CMD...: CMD in namespace NS, in the background; pid in $BG_PID
    local ns=$1 name=$2; shift 2
    ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
    BG_PID=$!
    BG[$BG_PID]=$name
}
stop() {  # stop PID [SIGNAL]
    local pid=$1 sig=${2:-TERM}
    [[ -n ${BG[$pid]:-} ]] || return 0
    if [[ -n ${PGRP[$pid]:-} ]]; then kill -s "$sig" -- "-$pid" 2>/dev/null || true
    else kill -s "$sig" "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
    unset "BG[$pid]" "PGRP[$pid]"
}
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${!BG[@]}"; do
        if [[ -n ${PGRP[$pid]:-} ]]; then kill -- "-$pid" 2>/dev/null || true
        else kill "$pid" 2>/dev/null || true; fi
    done
    for pid in "${!BG[@]}"; do wait "$pid" 2>/dev/null || true; done
    ip netns del "$CLI_NS" 2>/dev/null || true
    ip netns del "$SRV_NS" 2>/dev/null || true
    if [[ $rc -ne 0 ]]; then
        log "failed (exit $rc); last lines of the logs:"
        tail -n 5 "$WORK"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_listen() {   # wait_listen NS PORT
    local i
    for i in $(seq 100); do
        ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
        sleep 0.05
    done
    die "nothing listens on port $2 in $1"
}

# ------------------------------------------------------------------ namespaces

setup_netns() {
    local ns x mac
    for ns in "$CLI_NS" "$SRV_NS"; do
        ip netns del "$ns" 2>/dev/null || true      # left over by a killed run
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
            net.ipv6.conf.all.disable_ipv6=1
    done
    # wide port range: ~10k connections in minutes, no 4-tuple reused in the capture
    ip netns exec "$CLI_NS" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
    ip netns exec "$SRV_NS" sysctl -qw net.core.somaxconn=4096
    ip link add esb-c0 netns "$CLI_NS" type veth peer name esb-s0 netns "$SRV_NS"
    for x in "$CLI_NS esb-c0" "$SRV_NS esb-s0"; do
        set -- $x
        ip -n "$1" link set "$2" mtu 1500
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null
        ip -n "$1" link set "$2" up
    done
    ip -n "$CLI_NS" addr add "$CLI4/24" dev esb-c0
    ip -n "$SRV_NS" addr add "$SRV4/24" dev esb-s0
    mac=$(ip netns exec "$SRV_NS" cat /sys/class/net/esb-s0/address)
    ip -n "$CLI_NS" neigh replace "$SRV4" lladdr "$mac" dev esb-c0 nud permanent
    mac=$(ip netns exec "$CLI_NS" cat /sys/class/net/esb-c0/address)
    ip -n "$SRV_NS" neigh replace "$CLI4" lladdr "$mac" dev esb-s0 nud permanent
}

# ------------------------------------------------------------------ files and servers

write_files() {
    mkdir -p "$WORK/www/f" "$WORK/nginx" "$WORK/body"
    echo "hello from the expectscope benchmark" >"$WORK/www/index.html"
    : >"$WORK/www/f/0"
    head -c 1024 /dev/urandom >"$WORK/www/f/1k"
    head -c 16384 /dev/urandom >"$WORK/www/f/16k"
    head -c 131072 /dev/urandom >"$WORK/www/f/128k"
    head -c 1048576 /dev/urandom >"$WORK/www/f/1m"
    local n
    for n in 4096 16384 65536 1200000; do head -c $n /dev/urandom >"$WORK/body/$n"; done
    for n in 3 4 5 6; do head -c $((n * 1048576)) /dev/urandom >"$WORK/body/${n}m"; done
    mv "$WORK/body/1200000" "$WORK/body/1200k"
    chmod -R a+rX "$WORK/www" "$WORK/body"
    cat >"$WORK/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 2048; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 10000;
    server {
        listen $SRV4:80 backlog=4096;
        root $WORK/www;
        client_max_body_size 16m;
        client_body_buffer_size 1m;
        location /upload { echo_read_request_body; echo "received \$content_length bytes"; }
    }
}
EOF
}

start_servers() {
    bg "$SRV_NS" nginx nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
    bg "$SRV_NS" pyserver "$PY" -B "$TRAFFIC" server --http "$SRV4:8081" \
        --sink "$SRV4:9000" --udp "$SRV4:9999"
    bg "$SRV_NS" nodeserver node "$NODESRV" "$SRV4" 8082
    wait_listen "$SRV_NS" 80
    wait_listen "$SRV_NS" 8081
    wait_listen "$SRV_NS" 9000
    wait_listen "$SRV_NS" 8082
}

# ------------------------------------------------------------------ one round of jobs

# round_jobs R: the client commands of round R, one shell command a line, shuffled.
# About 880 TCP connections and 75 MB on the wire.
round_jobs() {
    local r=$1 i s U=http://$SRV4 P=http://$SRV4:8081 N=http://$SRV4:8082
    local C="curl -sS --max-time 60"
    local EXP="-H 'Expect: 100-continue'" B=$WORK/body
    local T="$PY -B $TRAFFIC client"
    {
        # python keep-alive clients, 2-8 requests per connection: 600 connections
        for i in 1 2 3 4; do
            s=$((r * 100 + i))
            echo "$T http-mixed --flavor nginx --server $SRV4 --port 80 --conns 60 --seed $s"
            echo "$T http-mixed --flavor python --server $SRV4 --port 8081 --conns 60 --seed $s"
        done
        for i in 1 2; do
            s=$((r * 100 + 10 + i))
            echo "$T http-mixed --flavor node --server $SRV4 --port 8082 --conns 60 --seed $s"
        done
        # curl, keep-alive chains to nginx: 3 GETs, an Expect POST (100 Continue), a
        # plain POST, all on one connection: 100 connections
        for i in $(seq 100); do
            echo "$C -o /dev/null -o /dev/null -o /dev/null $U/index.html $U/f/16k $U/f/1k" \
                "--next -o /dev/null $EXP --data-binary @$B/16384 $U/upload" \
                "--next -o /dev/null --data-binary @$B/4096 $U/upload?plain"
        done
        # curl against node: GETs then an Expect POST that node answers 100 to: 40
        for i in $(seq 40); do
            echo "$C -o /dev/null -o /dev/null '$N/get?n=2000' '$N/get?n=30000'" \
                "--next -o /dev/null $EXP --data-binary @$B/65536 $N/upload"
        done
        # curl, no 100 from the server: falls back after 50 ms: 60
        for i in $(seq 60); do
            echo "$C -o /dev/null --expect100-timeout 0.05 $EXP --data-binary @$B/16384 $P/no100"
        done
        # curl gets 417. From python, to the Expect curl adds itself (body > 1 MiB):
        # curl retries at once without Expect on the same connection. (With a
        # user-supplied -H Expect it would retry with it again, up to 50 times.)
        # From node, to an unknown expectation: curl sent the body at once. 15
        for i in $(seq 5); do
            echo "$C -o /dev/null --data-binary @$B/1200k $P/reject"
        done
        for i in $(seq 10); do
            echo "$C -o /dev/null -H 'Expect: x-bench-unknown' --data-binary @$B/4096 $N/upload"
        done
        # large uploads; curl adds Expect itself above 1 MiB: 6
        for s in 3 4 5 6; do echo "$C -o /dev/null --data-binary @$B/${s}m $U/upload"; done
        echo "$C -o /dev/null --data-binary @$B/4m $N/upload"
        echo "$C -o /dev/null --data-binary @$B/3m $P/upload"
        # large downloads, keep-alive: 2
        for i in 1 2; do
            echo "$C -o /dev/null -o /dev/null -o /dev/null $U/f/1m $U/f/1m $U/f/128k"
        done
        # bulk non-HTTP TCP: random bytes, and TLS-looking streams: 4
        echo "$T bulk --server $SRV4 --port 9000 --conns 1 --size 4000000"
        echo "$T bulk --server $SRV4 --port 9000 --conns 1 --size 3000000"
        echo "$T tls --server $SRV4 --port 9000 --conns 2 --size 2000000 --seed $r"
        # UDP, small datagrams
        echo "$T udp --server $SRV4 --port 9999 --conns 1500 --seed $r"
    } | shuf
}

active_opens() {   # TCP connections opened in the client namespace so far
    ip netns exec "$CLI_NS" awk '/^Tcp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp
}

# ------------------------------------------------------------------ main

write_files
setup_netns
start_servers

rm -f "$OUT"
bg "$CLI_NS" tcpdump tcpdump -i esb-c0 -s 0 -B 262144 -Z root -w "$OUT"
CAP_PID=$BG_PID
for i in $(seq 100); do
    grep -q 'listening on' "$WORK/tcpdump.log" && break
    sleep 0.05
done
grep -q 'listening on' "$WORK/tcpdump.log" || die "tcpdump did not start"
sleep 0.3

log "target: >= $SIZE_MB MiB and >= $MIN_CONNS TCP connections, $PAR client jobs at once"
START=$(date +%s)
round=0 short=""
while :; do
    round=$((round + 1))
    round_jobs "$round" >"$WORK/jobs.$round"
    setsid ip netns exec "$CLI_NS" xargs -d '\n' -n 1 -P "$PAR" sh -c \
        <"$WORK/jobs.$round" >>"$WORK/clients.log" 2>&1 &
    pid=$!
    BG[$pid]=clients PGRP[$pid]=1
    wait "$pid" || log "round $round: some client job failed (see below)"
    unset "BG[$pid]" "PGRP[$pid]"
    size=$(stat -c %s "$OUT")
    conns=$(active_opens)
    el=$(($(date +%s) - START))
    log "round $round: $((size / 1048576)) MiB, $conns connections, ${el}s"
    if [[ $size -ge $((SIZE_MB * 1048576)) && $conns -ge $MIN_CONNS ]]; then break; fi
    if [[ $el -ge $((MAX_MIN * 60)) ]]; then
        short="yes"
        log "warning: stopping after $MAX_MIN minutes, short of the targets"
        break
    fi
done
sleep 2            # let tcpdump's last buffer block time out and reach the file
stop "$CAP_PID" INT
DROPS=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$WORK/tcpdump.log")
[[ -n $DROPS ]] || die "tcpdump did not report its drop count"
if grep -q . "$WORK/clients.log"; then
    log "client messages ($(wc -l <"$WORK/clients.log") lines), first 10:"
    grep -v "^curl: (47)" "$WORK/clients.log" | head -n 40 >&2
fi

# What was made: size, packets, connections (SYNs without ACK) by server port, UDP.
log "counting"
PKTS=$(capinfos -M -c -T -r "$OUT" | awk -F'\t' '{ print $2 }')
SPAN=$(capinfos -M -u -T -r "$OUT" | awk -F'\t' '{ print $2 }')
tcpdump -nn -r "$OUT" -q 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn or udp' \
    2>/dev/null | awk '
    / UDP/ { udp++; next }
    { split($5, a, "."); p = a[5]; sub(":", "", p); n[p]++; tot++ }
    END {
        printf "tcp_connections\t%d\n", tot
        for (p in n) printf "  port %s\t%d\n", p, n[p]
        printf "udp_datagrams\t%d\n", udp
    }' >"$WORK/counts"
CONNS=$(awk -F'\t' '$1 == "tcp_connections" { print $2 }' "$WORK/counts")
SIZE=$(stat -c %s "$OUT")
printf '%s\n' \
    "capture       $OUT" \
    "size          $SIZE bytes ($((SIZE / 1048576)) MiB)" \
    "packets       $PKTS" \
    "span          $SPAN s of capture time, $el s of wall time, $round rounds" \
    "kernel drops  $DROPS"
awk -F'\t' '{ printf "%-16s %s\n", $1, $2 }' "$WORK/counts" |
    sed 's/^tcp_connections /tcp connections/; s/^udp_datagrams   /udp datagrams   /'
printf 'by server port: 80 nginx, 8081 python, 8082 node, 9000 non-HTTP sink\n'
[[ $DROPS -eq 0 ]] || log "warning: the kernel dropped $DROPS packets; the analyzer will see gaps"
[[ -z $short ]] || log "warning: short of the targets ($SIZE_MB MiB, $MIN_CONNS connections)"
exit 0
