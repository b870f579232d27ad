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

LOG_TAG=make-corpus
# shellcheck source=netns-lib.sh
source "$HERE/netns-lib.sh"   # namespaces, addresses, bg/stop, tcpdump, cleanup trap
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

if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL_CASES[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
need_tools ip tcpdump tshark nginx lighttpd squid curl python3 node

CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
for c in "${CASES[@]}"; do
    [[ " ${ALL_CASES[*]} " == *" $c "* ]] || die "unknown case '$c' (see --list)"
done

netns_init expectscope-corpus

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
