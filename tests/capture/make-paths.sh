#!/usr/bin/env bash
# make-paths.sh: regenerate the two-leg proxy captures in tests/pcap/paths/.
#
# Usage (as root): tests/capture/make-paths.sh [CASE...]
#   With no CASE, every case is captured. `make-paths.sh --list` prints the case names.
#
# Real proxies (squid, nginx proxy_pass, haproxy, Apache mod_proxy, varnish) between
# curl and real origins (nginx, and a Python origin that never sends 100), inside the
# network namespaces of netns-lib.sh: client es-cli, proxy es-prx, origins es-srv.
# Every capture is taken with `tcpdump -i any` inside es-prx, so both legs (client ->
# proxy on es-p0, proxy -> origin on es-p1) are in one file; direct-vs-edge adds the
# client's direct path (see case_direct-vs-edge). Servers are started by hand with
# private configs in a temporary directory and stopped by PID; the namespaces,
# processes and the directory are removed on exit, also on failure.
#
# tests/pcap/paths/<case>.pcap is rewritten. The hand-checked <case>.truth files are
# never touched: after a new capture, check the truth again (paths-legs.py prints each
# leg's facts and the wait split for the pairs a .truth names). See
# tests/capture/README.md and tests/pcap/paths/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)/pcap/paths
PEERS="$HERE/peers.py"

LOG_TAG=make-paths
# shellcheck source=netns-lib.sh
source "$HERE/netns-lib.sh"   # namespaces, addresses, bg/stop, tcpdump, cleanup trap
NO100_PORT=8081               # the Python origin that never sends 100, on $PSRV4

ALL_CASES=(
    squid-forward squid-accel-nginx squid-accel-no100
    nginx-proxy-nginx nginx-proxy-no100
    haproxy-nginx haproxy-417
    apache-nginx apache-no100
    varnish-nginx
    direct-vs-edge ambiguous-pair
)

if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL_CASES[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
need_tools ip tcpdump tshark mergecap nginx squid haproxy apache2 varnishd curl python3
[[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]] ||
    die "missing libnginx-mod-http-echo (nginx's echo_read_request_body)"

CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
for c in "${CASES[@]}"; do
    [[ " ${ALL_CASES[*]} " == *" $c "* ]] || die "unknown case '$c' (see --list)"
done

netns_init expectscope-paths

# ------------------------------------------------------------------ configs

# Host names: origin.example is nginx (10.231.2.2:80, also 10.231.0.2:80 for the direct
# path), no100.example the Python origin (10.231.2.2:8081). Reverse proxies are reached
# with curl --resolve NAME:80:10.231.1.2, so the client sends Host: NAME; squid as a
# forward proxy resolves the names from a private hosts file.
write_files() {
    python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import peers
open(sys.argv[2] + "/body4k", "wb").write(peers.make_body(4096))
open(sys.argv[2] + "/body2k", "wb").write(peers.make_body(2048, 5))' "$HERE" "$WORK"
    mkdir -p "$WORK/www" "$WORK/nginx" "$WORK/pcap"
    echo "hello from the expectscope path captures" >"$WORK/www/index.html"
    printf '%s origin.example\n%s no100.example\n' "$PSRV4" "$PSRV4" >"$WORK/hosts"
    cat >"$WORK/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
events { worker_connections 64; }
http {
    log_format es '\$remote_addr:\$remote_port "\$request" \$status \$request_length '
                  '"\$http_expect" "\$http_via" "\$http_x_forwarded_for"';
    access_log $WORK/nginx/access.log es;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen $SRV4:80;
        listen $PSRV4:80;
        root $WORK/www;
        client_max_body_size 10m;
        client_body_buffer_size 1m;
        location /upload { echo_read_request_body; echo "received \$content_length bytes"; }
    }
}
EOF
}

# squid_conf NAME PORT_LINE [LINES...]: a private squid config in $WORK/NAME.
squid_conf() {
    local d=$WORK/$1 port=$2; shift 2
    rm -rf "$d"
    mkdir -p "$d"
    chown proxy:proxy "$d"
    {
        echo "$port"
        printf '%s\n' "$@"
        cat <<EOF
http_access allow all
cache deny all
cache_mem 8 MB
visible_hostname es-prx
cache_effective_user proxy
cache_log $d/cache.log
access_log stdio:$d/access.log
pid_filename $d/squid.pid
coredump_dir $d
hosts_file $WORK/hosts
dns_nameservers 127.0.0.1
shutdown_lifetime 1 seconds
pinger_enable off
netdb_filename none
EOF
    } >"$d/squid.conf"
}

start_squid() {          # start_squid NAME PORT
    bg "$PRX_NS" "$1" squid -N -f "$WORK/$1/squid.conf"
    PROXY_PID=$BG_PID
    wait_listen "$PRX_NS" "$2" 200
}

# nginx as a reverse proxy, everything at its defaults (proxy_http_version 1.0,
# proxy_request_buffering on, Host: $proxy_host) except the log.
start_nginx_proxy() {    # start_nginx_proxy UPSTREAM_PORT
    local d=$WORK/nginx-prx
    rm -rf "$d"
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    log_format es '\$remote_addr:\$remote_port "\$request" \$status '
                  'up=\$upstream_addr \$upstream_status rt=\$request_time '
                  'urt=\$upstream_response_time';
    access_log $d/access.log es;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    server {
        listen $PRX4:80;
        location / { proxy_pass http://$PSRV4:$1; }
    }
}
EOF
    bg "$PRX_NS" nginx-prx nginx -c "$d/nginx.conf" -g 'daemon off;'
    PROXY_PID=$BG_PID
    wait_listen "$PRX_NS" 80
}

# haproxy in HTTP mode, defaults apart from the timeouts and a log line that names
# both ends of both legs (%cp client port, %bp the backend connection's source port):
# that is what pairs the client and upstream exchanges in ambiguous-pair.
start_haproxy() {        # start_haproxy [EXTRA FRONTEND LINE...]
    local d=$WORK/haproxy
    rm -rf "$d"
    mkdir -p "$d"
    {
        cat <<EOF
global
    log stdout format raw local0
    pidfile $d/haproxy.pid
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind $PRX4:80
    log-format "%ci:%cp -> %bi:%bp -> %si:%sp %{+Q}r %ST Th=%Th TR=%TR Tw=%Tw Tc=%Tc Tr=%Tr Ta=%Ta %tsc"
EOF
        printf '    %s\n' "$@"
        cat <<EOF
    default_backend be
backend be
    server origin $PSRV4:80
EOF
    } >"$d/haproxy.cfg"
    bg "$PRX_NS" haproxy haproxy -db -f "$d/haproxy.cfg"
    PROXY_PID=$BG_PID
    wait_listen "$PRX_NS" 80
}

# Apache 2.4 with mod_proxy + mod_proxy_http: ProxyPass / to the origin, no other
# proxy setting (so the 100-continue handling is mod_proxy_http's default) except
# ProxyTimeout 3: mod_proxy_http forwards Expect and holds the client's body until the
# origin's 100 comes, so with the no-100 origin each Expect upload waits the whole
# proxy timeout and then gets Apache's own 503 (60 s with the default Timeout 60, as a
# first run showed; 3 s here to keep the case short).
start_apache() {         # start_apache UPSTREAM_PORT
    local d=$WORK/apache m=/usr/lib/apache2/modules
    rm -rf "$d"
    mkdir -p "$d"
    cat >"$d/apache2.conf" <<EOF
ServerRoot $d
DefaultRuntimeDir $d
PidFile $d/apache2.pid
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule proxy_module $m/mod_proxy.so
LoadModule proxy_http_module $m/mod_proxy_http.so
Listen $PRX4:80
ServerName es-prx
User www-data
Group www-data
StartServers 1
ErrorLog $d/error.log
LogLevel info
LogFormat "%a:%{remote}p \"%r\" %>s %D" es
CustomLog $d/access.log es
ProxyTimeout 3
ProxyPass "/" "http://$PSRV4:$1/"
ProxyPassReverse "/" "http://$PSRV4:$1/"
EOF
    bg "$PRX_NS" apache apache2 -f "$d/apache2.conf" -DFOREGROUND
    PROXY_PID=$BG_PID
    wait_listen "$PRX_NS" 80
}

# varnish 7.1 with -b (the built-in VCL: a POST is passed to the backend).
start_varnish() {
    local d=$WORK/varnish
    rm -rf "$d"
    bg "$PRX_NS" varnish varnishd -F -n "$d" -a "$PRX4:80" -b "$PSRV4:80" \
        -s malloc,16m -p thread_pools=1 -p thread_pool_min=5
    PROXY_PID=$BG_PID
    wait_listen "$PRX_NS" 80 400
}

stop_proxy() { stop "$PROXY_PID"; }

start_origins() {
    bg "$SRV_NS" nginx nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
    NGINX_PID=$BG_PID
    bg "$SRV_NS" no100 python3 "$PEERS" server no100 --listen "$PSRV4:$NO100_PORT"
    NO100_PID=$BG_PID
    wait_listen "$SRV_NS" 80
    wait_listen "$SRV_NS" "$NO100_PORT"
}

# ------------------------------------------------------------------ clients

EXP=(-H 'Expect: 100-continue')
NOEXP=(-H 'Expect:')

# uploads BASE [CURL OPTION...]: one curl, one keep-alive connection to its proxy or
# origin: two 4 KiB POSTs with Expect: 100-continue (/upload?n=1, ?n=2), then a plain
# 2 KiB POST without Expect (?n=3); the options apply to all three. curl waits up to
# 1 s (its default) for a 100; with TIMEOUT2 set, the second POST uses
# --expect100-timeout $TIMEOUT2. With SLOW set, a second curl (a new connection) then
# sends a fourth Expect POST of 4 KiB with --limit-rate 2k: 2 KiB, a ~1 s pause, the
# other 2 KiB, which shows whether the proxy streams the body or buffers all of it.
uploads() {
    local base=$1; shift
    local t2=()
    [[ -z ${TIMEOUT2:-} ]] || t2=(--expect100-timeout "$TIMEOUT2")
    curl_cli "$@" "${EXP[@]}" --data-binary "@$WORK/body4k" "$base/upload?n=1" \
        --next -sS -o /dev/null "$@" "${t2[@]}" "${EXP[@]}" \
        --data-binary "@$WORK/body4k" "$base/upload?n=2" \
        --next -sS -o /dev/null "$@" "${NOEXP[@]}" --data-binary "@$WORK/body2k" \
        "$base/upload?n=3"
    if [[ -n ${SLOW:-} ]]; then
        curl_cli "$@" "${EXP[@]}" --limit-rate 2k --data-binary "@$WORK/body4k" \
            "$base/upload?n=4"
    fi
}

# curl options to reach the reverse proxy as http://origin.example/ or http://no100.example/
TO_ORIGIN=(--resolve "origin.example:80:$PRX4")
TO_NO100=(--resolve "no100.example:80:$PRX4")

# proxied CASE CMD...: capture CMD with both legs (tcpdump -i any inside es-prx).
proxied() {
    local name=$1; shift
    cap_start "$PRX_NS" any "$WORK/pcap/$name.pcap"
    "$@"
    cap_stop
}

# ------------------------------------------------------------------ the cases

case_squid-forward() {
    squid_conf squid "http_port $PRX4:3128"
    start_squid squid 3128
    proxied squid-forward uploads http://origin.example -x "http://$PRX4:3128"
    stop_proxy
}
case_squid-accel-nginx() {
    squid_conf squid-accel "http_port $PRX4:80 accel vhost" \
        "cache_peer $PSRV4 parent 80 0 no-query originserver name=origin" \
        "cache_peer_access origin allow all" "never_direct allow all"
    start_squid squid-accel 80
    proxied squid-accel-nginx uploads http://origin.example "${TO_ORIGIN[@]}"
    stop_proxy
}
case_squid-accel-no100() {
    squid_conf squid-accel "http_port $PRX4:80 accel vhost" \
        "cache_peer $PSRV4 parent $NO100_PORT 0 no-query originserver name=no100" \
        "cache_peer_access no100 allow all" "never_direct allow all"
    start_squid squid-accel 80
    TIMEOUT2=0.3 proxied squid-accel-no100 uploads http://no100.example \
        "${TO_NO100[@]}"
    stop_proxy
}
case_nginx-proxy-nginx() {
    start_nginx_proxy 80
    SLOW=1 proxied nginx-proxy-nginx uploads http://origin.example "${TO_ORIGIN[@]}"
    stop_proxy
}
case_nginx-proxy-no100() {
    start_nginx_proxy "$NO100_PORT"
    proxied nginx-proxy-no100 uploads http://no100.example "${TO_NO100[@]}"
    stop_proxy
}
case_haproxy-nginx() {
    start_haproxy
    proxied haproxy-nginx uploads http://origin.example "${TO_ORIGIN[@]}"
    stop_proxy
}
# haproxy answers 417 to any request carrying Expect. curl 7.88.1 does not retry after
# a 417 (see README), so each 417 is followed by the retry a user or a script would
# make: the same POST again without Expect, from a new curl (a new connection).
retry_after_417() {
    local base=$1; shift
    curl_cli "$@" "${EXP[@]}" --data-binary "@$WORK/body4k" "$base/upload?n=1"
    curl_cli "$@" "${NOEXP[@]}" --data-binary "@$WORK/body4k" "$base/upload?n=1"
}
HAPROXY_417='http-request deny deny_status 417 content-type text/plain string "expectation refused by the edge" if { req.hdr(expect) -m found }'
case_haproxy-417() {
    start_haproxy "$HAPROXY_417"
    proxied haproxy-417 retry_after_417 http://origin.example "${TO_ORIGIN[@]}"
    stop_proxy
}
case_apache-nginx() {
    start_apache 80
    proxied apache-nginx uploads http://origin.example "${TO_ORIGIN[@]}"
    stop_proxy
}
case_apache-no100() {
    start_apache "$NO100_PORT"
    TIMEOUT2=0.3 proxied apache-no100 uploads http://no100.example "${TO_NO100[@]}"
    stop_proxy
}
case_varnish-nginx() {
    start_varnish
    SLOW=1 proxied varnish-nginx uploads http://origin.example "${TO_ORIGIN[@]}"
    stop_proxy
}

# direct-vs-edge: the same Host (origin.example) and URI (/upload?n=1), once straight
# to nginx (10.231.0.2, es-c0) and once through the haproxy that answers 417 (then the
# retry without Expect). Two captures taken at once and merged: `-i any` in es-cli (the
# direct path and the client -> haproxy leg) and `-i any` in es-prx limited to the
# proxy -> origin subnet (the upstream leg, as in the other cases; the client leg is
# left out there because es-cli already has it). Both are LINUX_SLL2.
case_direct-vs-edge() {
    start_haproxy "$HAPROXY_417"
    cap_start "$CLI_NS" any "$WORK/dve-cli.pcap"
    cap_start "$PRX_NS" any "$WORK/dve-prx.pcap" net 10.231.2.0/24
    curl_cli --resolve "origin.example:80:$SRV4" "${EXP[@]}" --data-binary "@$WORK/body4k" \
        "http://origin.example/upload?n=1"
    sleep 0.2
    retry_after_417 http://origin.example "${TO_ORIGIN[@]}"
    cap_stop
    mergecap -F pcap -w "$WORK/pcap/direct-vs-edge.pcap" "$WORK/dve-cli.pcap" \
        "$WORK/dve-prx.pcap"
    stop_proxy
}

# ambiguous-pair: two clients (source addresses 10.231.1.1 and 10.231.1.3) make one
# identical Expect upload each (same method, URI, Host, 4096 bytes) through haproxy at
# the same moment. One curl with --parallel drives both, so the two connections start
# within microseconds (two curl processes started together came ~0.7 ms apart, each
# request reaching the upstream before the other's head arrived). The case wants both
# client request heads on the wire before either upstream request head, so that only
# ports and timing tell the pairs apart; a capture without that order is taken again
# (up to 10 times). haproxy's log line names the client port and the source port of the
# upstream connection of each exchange: that is the true pairing, printed to stderr.
PCLI4B=10.231.1.3
case_ambiguous-pair() {
    ip -n "$CLI_NS" addr replace "$PCLI4B/24" dev es-c1
    neigh "$PRX_NS" es-p0 "$PCLI4B" "$CLI_NS" es-c1
    local try
    for try in $(seq 10); do
        start_haproxy
        proxied ambiguous-pair curl_cli --parallel --parallel-immediate \
            --interface "$PCLI4" "${TO_ORIGIN[@]}" "${EXP[@]}" \
            --data-binary "@$WORK/body4k" "http://origin.example/upload" \
            --next -sS -o /dev/null --interface "$PCLI4B" "${TO_ORIGIN[@]}" \
            "${EXP[@]}" --data-binary "@$WORK/body4k" "http://origin.example/upload"
        stop_proxy
        heads_interleaved "$WORK/pcap/ambiguous-pair.pcap" && break
        [[ $try -lt 10 ]] || die "ambiguous-pair: the heads never interleaved"
        log "ambiguous-pair: an upstream head came before the second client head, again"
    done
    log "haproxy's pairing (client -> proxy -> origin):"
    grep -- '->' "$WORK/haproxy.log" >&2 || true
}
# heads_interleaved FILE: the first two request heads in FILE are both sent to the proxy.
heads_interleaved() {
    local first2
    first2=$(tshark -r "$1" -o http.desegment_body:FALSE -Y http.request -T fields \
        -e ip.dst 2>/dev/null | head -n 2 | tr '\n' ' ')
    [[ $first2 == "$PRX4 $PRX4 " ]]
}

# keep_logs CASE: with PATHS_LOGS=DIR set, copy the case's logs (proxy and origin
# access logs, tcpdump, client) to DIR/CASE/ for checking the .truth.
keep_logs() {
    [[ -n ${PATHS_LOGS:-} ]] || return 0
    local d=$PATHS_LOGS/$1 f
    rm -rf "$d"
    mkdir -p "$d"
    for f in "$WORK"/*.log; do
        [[ ! -f $f ]] || cp "$f" "$d/"
    done
    for f in "$WORK"/*/access.log "$WORK"/*/cache.log "$WORK"/*/error.log; do
        [[ ! -f $f ]] || cp "$f" "$d/$(basename "$(dirname "$f")")-${f##*/}"
    done
}

# ------------------------------------------------------------------ main

mkdir -p "$OUT"
write_files
setup_netns
start_origins

for c in "${CASES[@]}"; do
    for attempt in 1 2 3; do
        log "capturing $c"
        CAP_DROPS=0
        "case_$c"
        keep_logs "$c"
        [[ $CAP_DROPS -eq 0 ]] && break
        [[ $attempt -lt 3 ]] || die "$c: the kernel dropped packets three times (machine busy?)"
        log "$c: the kernel dropped $CAP_DROPS packet(s), capturing again"
    done
done

stop "$NO100_PID"
stop "$NGINX_PID"

for c in "${CASES[@]}"; do
    install -m 644 "$WORK/pcap/$c.pcap" "$OUT/$c.pcap"
    [[ -f $OUT/$c.truth ]] || log "warning: no $c.truth yet"
    printf '%-28s %7d bytes\n' "$c.pcap" "$(stat -c %s "$OUT/$c.pcap")" >&2
done
log "done: ${#CASES[@]} captures in $OUT; check each .truth against its new capture"
