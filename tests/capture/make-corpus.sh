#!/usr/bin/env bash
# make-corpus.sh: regenerate the real-software captures in tests/pcap/.
#
# Usage (as root): tests/capture/make-corpus.sh [CASE...]
#   With no CASE, every case is captured. `make-corpus.sh --list` prints the case names.
#
# Everything runs inside network namespaces created here (es-cli, es-srv, es-prx) joined
# by veth pairs (MTU 1500, offloads off); nothing is sent anywhere else. Servers are
# started by hand with private configs in a temporary directory and stopped by PID.
# The namespaces, processes and the temporary directory are removed on exit, also on
# failure. tests/pcap/<case>.pcap and .conv are rewritten; the hand-checked
# tests/pcap/<case>.expected files are never touched (a warning names any capture that
# has none). See tests/capture/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)/pcap
PEERS="$HERE/peers.py"
NODEPEERS="$HERE/node-peers.js"

CLI_NS=es-cli SRV_NS=es-srv PRX_NS=es-prx
CLI4=10.231.0.1 SRV4=10.231.0.2 CLI6=fd00:e5::1 SRV6=fd00:e5::2
PCLI4=10.231.1.1 PRX4=10.231.1.2 PUP4=10.231.2.1 PSRV4=10.231.2.2
CASE_PORT=8081            # per-case python/node servers, on $SRV4

ALL_CASES=(
    curl-nginx-continue node-nginx-continue python-lighttpd-continue
    curl-no100-timeout-1s curl-no100-timeout-200ms
    expect-417-retry expect-417-retry-same-conn expect-417-retry-dupbody curl-417-no-retry
    early-401-keep early-401-keep-swallowed early-401-close early-413-close
    late-100 late-100-nowait unsolicited-100 103-then-100
    unsupported-expect unsupported-expect-nginx http10-expect http10-1xx
    expect-no-body expect-abandoned same-segment-body chunked-expect pipelined
    slow-upload body-stall reset-mid-upload squid-proxy ipv6-continue keepalive-mixed
    gap-body gap-headers reordered
)
DERIVED_FROM_CONTINUE=(gap-body gap-headers reordered)

log() { printf 'make-corpus: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL_CASES[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for tool in ip tcpdump tshark nginx lighttpd squid curl python3 node; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
if ! command -v ethtool >/dev/null; then
    log "ethtool missing, installing it with apt-get"
    apt-get install -y -q ethtool >/dev/null || die "cannot install ethtool"
fi

CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
for c in "${CASES[@]}"; do
    [[ " ${ALL_CASES[*]} " == *" $c "* ]] || die "unknown case '$c' (see --list)"
done

WORK=$(mktemp -d /tmp/expectscope-corpus.XXXXXX)
chmod 755 "$WORK"
declare -A BG=()          # pid -> what it is, for every process still running
CAP_PID=""
CAP_DROPS=0

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

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${!BG[@]}"; do
        kill -s TERM "$pid" 2>/dev/null || true
    done
    for pid in "${!BG[@]}"; do
        wait "$pid" 2>/dev/null || true
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
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_listen NS PORT: until something listens on PORT inside NS (5 s at most).
wait_listen() {
    local ns=$1 port=$2 i
    for i in $(seq 100); do
        ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
        sleep 0.05
    done
    die "nothing listens on port $port in $ns"
}

# cap_start NS IFACE FILE / cap_stop: one tcpdump per capture, started before the
# scenario and stopped with SIGINT afterwards. --immediate-mode so that nothing waits
# in the kernel ring when SIGINT comes; -B 32 MiB because in immediate mode the ring's
# slots are sized for the interface MTU (64 KiB on "any", which includes lo) and the
# default 2 MiB then holds ~30 packets; -Z root keeps the file root-owned. A capture
# the kernel dropped packets from is taken again (CAP_DROPS).
cap_start() {
    local ns=$1 ifc=$2 file=$3 i
    bg "$ns" tcpdump tcpdump -i "$ifc" -s 0 -B 32768 -U --immediate-mode -Z root -w "$file"
    CAP_PID=$BG_PID
    for i in $(seq 100); do
        grep -q 'listening on' "$WORK/tcpdump.log" && break
        sleep 0.05
    done
    grep -q 'listening on' "$WORK/tcpdump.log" || die "tcpdump did not start"
    sleep 0.2
}
cap_stop() {
    sleep 0.3
    stop "$CAP_PID" INT
    CAP_PID=""
    local n
    n=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$WORK/tcpdump.log")
    [[ -n $n ]] || die "tcpdump did not report its drop count"
    CAP_DROPS=$((CAP_DROPS + n))
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

# ------------------------------------------------------------------ servers

write_files() {
    python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import peers
open(sys.argv[2] + "/body4k", "wb").write(peers.make_body(4096))
open(sys.argv[2] + "/body192k", "wb").write(peers.make_body(196608))' "$HERE" "$WORK"
    mkdir -p "$WORK/www/cgi" "$WORK/nginx" "$WORK/lighttpd" "$WORK/squid"
    echo "hello from the expectscope corpus" >"$WORK/www/index.html"
    echo "a" >"$WORK/www/a.txt"
    echo "b" >"$WORK/www/b.txt"
    echo 'alice:{PLAIN}secret' >"$WORK/nginx/htpasswd"
    cat >"$WORK/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log $WORK/nginx/access.log;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen $SRV4:80;
        listen [$SRV6]:80;
        listen $PSRV4:80;
        root $WORK/www;
        client_max_body_size 10m;
        client_body_buffer_size 1m;
        location /upload { echo_read_request_body; echo "received \$content_length bytes"; }
        location /small  { client_max_body_size 1k; echo_read_request_body; echo "ok"; }
        location /auth {
            auth_basic "upload";
            auth_basic_user_file $WORK/nginx/htpasswd;
            echo_read_request_body;
            echo "received \$content_length bytes";
        }
    }
}
EOF
    cat >"$WORK/www/cgi/echo.py" <<'EOF'
#!/usr/bin/python3
import os, sys
n = int(os.environ.get("CONTENT_LENGTH") or 0)
data = sys.stdin.buffer.read(n) if n else b""
sys.stdout.write("Content-Type: text/plain\r\n\r\nreceived %d bytes\n" % len(data))
EOF
    chmod 755 "$WORK/www/cgi/echo.py"
    cat >"$WORK/lighttpd/lighttpd.conf" <<EOF
server.document-root = "$WORK/www"
server.bind = "$SRV4"
server.port = 8080
server.pid-file = "$WORK/lighttpd/lighttpd.pid"
server.errorlog = "$WORK/lighttpd/error.log"
server.modules = ( "mod_access", "mod_cgi" )
\$HTTP["url"] =~ "^/cgi/" { cgi.assign = ( ".py" => "/usr/bin/python3" ) }
EOF
    cat >"$WORK/squid/squid.conf" <<EOF
http_port $PRX4:3128
http_access allow all
cache deny all
cache_mem 8 MB
visible_hostname es-prx
cache_effective_user proxy
cache_log $WORK/squid/cache.log
access_log stdio:$WORK/squid/access.log
pid_filename $WORK/squid/squid.pid
coredump_dir $WORK/squid
dns_nameservers 127.0.0.1
shutdown_lifetime 1 seconds
pinger_enable off
netdb_filename none
EOF
    chown proxy:proxy "$WORK/squid"
}

start_web_servers() {
    bg "$SRV_NS" nginx nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
    NGINX_PID=$BG_PID
    bg "$SRV_NS" lighttpd lighttpd -D -f "$WORK/lighttpd/lighttpd.conf"
    LIGHTTPD_PID=$BG_PID
    wait_listen "$SRV_NS" 80
    wait_listen "$SRV_NS" 8080
}

# case_server KIND ROLE [ARGS...]: start a per-case server on $SRV4:$CASE_PORT.
# KIND is py (peers.py) or node (node-peers.js).
case_server() {
    local kind=$1 role=$2; shift 2
    if [[ $kind == py ]]; then
        bg "$SRV_NS" server python3 "$PEERS" server "$role" --listen "$SRV4:$CASE_PORT" "$@"
    else
        bg "$SRV_NS" server node "$NODEPEERS" server "$role" "$SRV4" "$CASE_PORT"
    fi
    CASE_SERVER_PID=$BG_PID
    wait_listen "$SRV_NS" "$CASE_PORT"
}
case_server_stop() { stop "$CASE_SERVER_PID"; }

peer() { cli python3 "$PEERS" client "$@"; }

# ------------------------------------------------------------------ the cases
# Each case_* captures into $WORK/pcap/<case>.pcap. Direct cases are captured on the
# client's veth (es-c0); the proxy case on every interface of es-prx.

direct() {   # direct CASE CMD...: capture CMD on the client's side of the direct link
    local name=$1; shift
    cap_start "$CLI_NS" es-c0 "$WORK/pcap/$name.pcap"
    "$@"
    cap_stop
}

B4K() { echo "@$WORK/body4k"; }
U="http://$SRV4"
UC="http://$SRV4:$CASE_PORT"
EXP=(-H 'Expect: 100-continue')

case_curl-nginx-continue() {
    # two POSTs on one keep-alive connection (the second is what gap-headers removes)
    direct curl-nginx-continue curl_cli -o /dev/null "${EXP[@]}" --data-binary "$(B4K)" \
        "$U/upload" "$U/upload?n=2"
}
case_node-nginx-continue() {
    direct node-nginx-continue cli node "$NODEPEERS" client continue "$SRV4" 80 /upload 4096
}
case_python-lighttpd-continue() {
    direct python-lighttpd-continue peer continue --connect "$SRV4:8080" --uri /cgi/echo.py
}
case_curl-no100-timeout-1s() {
    case_server py no100
    direct curl-no100-timeout-1s curl_cli "${EXP[@]}" --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_curl-no100-timeout-200ms() {
    case_server py no100
    direct curl-no100-timeout-200ms curl_cli --expect100-timeout 0.2 "${EXP[@]}" \
        --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_expect-417-retry() {
    case_server node reject417
    direct expect-417-retry peer retry417 --connect "$SRV4:$CASE_PORT"
    case_server_stop
}
case_expect-417-retry-same-conn() {
    case_server py reject417
    direct expect-417-retry-same-conn peer retry417 --same-conn --connect "$SRV4:$CASE_PORT"
    case_server_stop
}
case_expect-417-retry-dupbody() {
    case_server node reject417
    direct expect-417-retry-dupbody peer retry417 --no-wait --connect "$SRV4:$CASE_PORT"
    case_server_stop
}
case_curl-417-no-retry() {
    case_server node reject417
    direct curl-417-no-retry curl_cli "${EXP[@]}" --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_early-401-keep() {
    direct early-401-keep peer early401-keep --connect "$SRV4:80" --uri /auth
}
case_early-401-keep-swallowed() {
    direct early-401-keep-swallowed peer early401-swallowed --connect "$SRV4:80" --uri /auth
}
case_early-401-close() {
    case_server node early401
    direct early-401-close curl_cli "${EXP[@]}" --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_early-413-close() {
    direct early-413-close curl_cli "${EXP[@]}" --data-binary "$(B4K)" "$U/small"
}
case_late-100() {
    case_server py late100 --delay-ms 150
    direct late-100 peer late --body-delay-ms 30 --connect "$SRV4:$CASE_PORT"
    case_server_stop
}
case_late-100-nowait() {
    case_server py late100 --delay-ms 150
    direct late-100-nowait peer late --body-delay-ms 0 --connect "$SRV4:$CASE_PORT"
    case_server_stop
}
case_unsolicited-100() {
    case_server py unsolicited
    direct unsolicited-100 curl_cli -H 'Expect:' --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_103-then-100() {
    case_server py hints
    direct 103-then-100 curl_cli "${EXP[@]}" --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_unsupported-expect() {
    case_server node default
    direct unsupported-expect curl_cli -H 'Expect: 200-ok' --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_unsupported-expect-nginx() {
    direct unsupported-expect-nginx curl_cli -H 'Expect: 200-ok' --data-binary "$(B4K)" \
        "$U/upload"
}
case_http10-expect() {
    direct http10-expect curl_cli -0 "${EXP[@]}" --data-binary "$(B4K)" "$U/upload"
}
case_http10-1xx() {
    case_server py always100
    direct http10-1xx curl_cli -0 "${EXP[@]}" --data-binary "$(B4K)" "$UC/upload"
    case_server_stop
}
case_expect-no-body() {
    # a GET and a POST with Content-Length: 0, both with Expect, on one connection
    direct expect-no-body curl_cli "${EXP[@]}" "$U/index.html" \
        --next -o /dev/null "${EXP[@]}" --data-binary '' "$U/upload"
}
case_expect-abandoned() {
    case_server py no100
    direct expect-abandoned peer abandon --wait-ms 1500 --connect "$SRV4:$CASE_PORT"
    case_server_stop
}
case_same-segment-body() {
    direct same-segment-body peer same-segment --size 1000 --connect "$SRV4:80"
}
case_chunked-expect() {
    direct chunked-expect curl_cli "${EXP[@]}" -H 'Transfer-Encoding: chunked' \
        --data-binary "$(B4K)" "$U/upload"
}
case_pipelined() {
    direct pipelined peer pipeline --connect "$SRV4:80"
}
case_slow-upload() {
    direct slow-upload curl_cli --limit-rate 100k "${EXP[@]}" \
        --data-binary "@$WORK/body192k" "$U/upload"
}
case_body-stall() {
    direct body-stall peer stall --size 8192 --pause-ms 1500 --connect "$SRV4:80"
}
case_reset-mid-upload() {
    direct reset-mid-upload peer reset --size 8192 --connect "$SRV4:80"
}
case_squid-proxy() {
    bg "$PRX_NS" squid squid -N -f "$WORK/squid/squid.conf"
    local squid_pid=$BG_PID
    wait_listen "$PRX_NS" 3128
    cap_start "$PRX_NS" any "$WORK/pcap/squid-proxy.pcap"
    curl_cli -x "http://$PRX4:3128" "${EXP[@]}" --data-binary "$(B4K)" "http://$PSRV4/upload"
    cap_stop
    stop "$squid_pid"
}
case_ipv6-continue() {
    direct ipv6-continue curl_cli -g "${EXP[@]}" --data-binary "$(B4K)" "http://[$SRV6]/upload"
}
case_keepalive-mixed() {
    direct keepalive-mixed peer httpclient-mixed --connect "$SRV4:80"
}

derive() {   # derive CASE: cut or reorder segments of curl-nginx-continue.pcap
    local src="$WORK/pcap/curl-nginx-continue.pcap"
    [[ -f $src ]] || src="$OUT/curl-nginx-continue.pcap"
    [[ -f $src ]] || die "$1 needs curl-nginx-continue.pcap"
    python3 "$HERE/pcap-derive.py" "$1" "$src" "$WORK/pcap/$1.pcap"
}
case_gap-body() { derive gap-body; }
case_gap-headers() { derive gap-headers; }
case_reordered() { derive reordered; }

# ------------------------------------------------------------------ main

mkdir -p "$WORK/pcap" "$OUT"
write_files
setup_netns
start_web_servers

for c in "${CASES[@]}"; do
    [[ " ${DERIVED_FROM_CONTINUE[*]} " == *" $c "* ]] && continue
    for attempt in 1 2 3; do
        log "capturing $c"
        CAP_DROPS=0
        "case_$c"
        [[ $CAP_DROPS -eq 0 ]] && break
        [[ $attempt -lt 3 ]] || die "$c: the kernel dropped packets three times (machine busy?)"
        log "$c: the kernel dropped $CAP_DROPS packet(s), capturing again"
    done
done
for c in "${CASES[@]}"; do
    [[ " ${DERIVED_FROM_CONTINUE[*]} " == *" $c "* ]] || continue
    log "deriving $c"
    "case_$c"
done

stop "$LIGHTTPD_PID"
stop "$NGINX_PID"

# Install, count, and cross-check each capture against its hand-checked .expected with
# oracle.py (an independent Python reading of the same rules): a difference means the
# capture drifted (timing) or a rule was read two ways; both need a look.
DIFFER=()
for c in "${CASES[@]}"; do
    install -m 644 "$WORK/pcap/$c.pcap" "$OUT/$c.pcap"
    "$HERE/tshark-conv.sh" "$OUT/$c.pcap" >"$WORK/$c.conv"
    install -m 644 "$WORK/$c.conv" "$OUT/$c.conv"
    python3 "$HERE/oracle.py" "$OUT/$c.pcap" >"$WORK/$c.oracle"
    if [[ ! -f $OUT/$c.expected ]]; then
        log "warning: no $c.expected; oracle.py reads it as:"
        cat "$WORK/$c.oracle" >&2
        DIFFER+=("$c")
    elif ! diff -u "$OUT/$c.expected" "$WORK/$c.oracle" >"$WORK/$c.diff"; then
        log "warning: $c.pcap: oracle.py disagrees with $c.expected:"
        cat "$WORK/$c.diff" >&2
        DIFFER+=("$c")
    fi
    printf '%-34s %7d bytes\n' "$c.pcap" "$(stat -c %s "$OUT/$c.pcap")" >&2
done
log "done: ${#CASES[@]} captures in $OUT"
if [[ ${#DIFFER[@]} -gt 0 ]]; then
    log "check these against their .expected: ${DIFFER[*]}"
    exit 3
fi
