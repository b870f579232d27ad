#!/usr/bin/env bash
# make-snaplen.sh: regenerate tests/pcap/snaplen/: the same real traffic captured at
# once with a whole snap length and with tcpdump -s 128 and -s 200 (three tcpdump
# processes on one interface), and the whole capture cut to each direction alone (as a
# span port that sees one direction, or asymmetric routing, would show it).
#
# Usage (as root): tests/capture/make-snaplen.sh [CASE...]   (--list: the case names)
#
# Namespaces es-sn-cli / es-sn-srv / es-sn-prx (not make-corpus.sh's, so both may run
# on one machine), veth pairs with MTU 1500 and offloads off, nginx and peers.py
# servers started here and stopped by PID; all removed on exit. Writes, per CASE,
# CASE.full.pcap, CASE.s128.pcap, CASE.s200.pcap, CASE.c2s.pcap (src host client only)
# and CASE.s2c.pcap (src host server only). The hand-checked CASE.*.expected files are
# never written; the script prints what expectscope reads when one is missing.
# See tests/capture/README.md ("Snap length and one-sided captures").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)/pcap/snaplen
PEERS="$HERE/peers.py"
ES=${ES:-$(cd "$HERE/../.." && pwd)/build/expectscope}

LOG_TAG=make-snaplen
# shellcheck source=netns-lib.sh
source "$HERE/netns-lib.sh"
CLI_NS=es-sn-cli SRV_NS=es-sn-srv PRX_NS=es-sn-prx
CASE_PORT=8081

ALL_CASES=(continue reject417 no100-timeout early-413-close keepalive-gets)
if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL_CASES[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
need_tools ip tcpdump nginx curl python3

CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
for c in "${CASES[@]}"; do
    [[ " ${ALL_CASES[*]} " == *" $c "* ]] || die "unknown case '$c' (see --list)"
done

netns_init expectscope-snaplen

write_files() {
    python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import peers
open(sys.argv[2] + "/body4k", "wb").write(peers.make_body(4096))' "$HERE" "$WORK"
    mkdir -p "$WORK/www" "$WORK/nginx"
    echo "a" >"$WORK/www/a.txt"
    echo "b" >"$WORK/www/b.txt"
    python3 -c 'print("x" * 3000)' >"$WORK/www/c.txt"
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
        root $WORK/www;
        client_max_body_size 10m;
        client_body_buffer_size 1m;
        location /upload { echo_read_request_body; echo "received \$content_length bytes"; }
        location /small  { client_max_body_size 1k; echo_read_request_body; echo "ok"; }
    }
}
EOF
}

case_server() {
    bg "$SRV_NS" server python3 "$PEERS" server "$1" --listen "$SRV4:$CASE_PORT"
    CASE_SERVER_PID=$BG_PID
    wait_listen "$SRV_NS" "$CASE_PORT"
}

U="http://$SRV4"
UC="http://$SRV4:$CASE_PORT"
EXP=(-H 'Expect: 100-continue')
BODY="@$WORK/body4k"

# The scenarios: real curl against nginx or a peers.py server.
run_continue() { curl_cli "${EXP[@]}" --data-binary "$BODY" "$U/upload"; }
run_reject417() {
    case_server reject417
    curl_cli "${EXP[@]}" --data-binary "$BODY" "$UC/upload" || true
    stop "$CASE_SERVER_PID"
}
run_no100-timeout() {
    case_server no100
    curl_cli "${EXP[@]}" --data-binary "$BODY" "$UC/upload"
    stop "$CASE_SERVER_PID"
}
run_early-413-close() { curl_cli "${EXP[@]}" --data-binary "$BODY" "$U/small"; }
run_keepalive-gets() {
    curl_cli "$U/a.txt" -o /dev/null "$U/c.txt" -o /dev/null "$U/b.txt" -o /dev/null \
        "$U/missing" -o /dev/null
}

# capture CASE: the three snap lengths at once on the client's veth
capture() {
    local c=$1
    CAP_SNAPLEN=0 cap_start "$CLI_NS" es-c0 "$WORK/pcap/$c.full.pcap" tcp
    CAP_SNAPLEN=128 cap_start "$CLI_NS" es-c0 "$WORK/pcap/$c.s128.pcap" tcp
    CAP_SNAPLEN=200 cap_start "$CLI_NS" es-c0 "$WORK/pcap/$c.s200.pcap" tcp
    "run_$c"
    cap_stop
}

mkdir -p "$WORK/pcap" "$OUT"
write_files
setup_netns
bg "$SRV_NS" nginx nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
NGINX_PID=$BG_PID
wait_listen "$SRV_NS" 80

for c in "${CASES[@]}"; do
    for attempt in 1 2 3; do
        log "capturing $c"
        CAP_DROPS=0
        capture "$c"
        [[ $CAP_DROPS -eq 0 ]] && break
        [[ $attempt -lt 3 ]] || die "$c: the kernel dropped packets three times"
        log "$c: the kernel dropped $CAP_DROPS packet(s), capturing again"
    done
    # one direction of the whole capture each: what a one-way span port shows
    tcpdump -r "$WORK/pcap/$c.full.pcap" -w "$WORK/pcap/$c.c2s.pcap" "src host $CLI4" \
        2>/dev/null
    tcpdump -r "$WORK/pcap/$c.full.pcap" -w "$WORK/pcap/$c.s2c.pcap" "src host $SRV4" \
        2>/dev/null
done
stop "$NGINX_PID"

for c in "${CASES[@]}"; do
    for k in full s128 s200 c2s s2c; do
        f=$c.$k
        install -m 644 "$WORK/pcap/$f.pcap" "$OUT/$f.pcap"
        printf '%-34s %7d bytes\n' "$f.pcap" "$(stat -c %s "$OUT/$f.pcap")" >&2
        if [[ ! -f $OUT/$f.expected && -x $ES ]]; then
            log "no $f.expected; expectscope reads it as:"
            "$ES" analyze --no-db --list -q "$OUT/$f.pcap" >&2 || true
        fi
    done
done
log "done: ${#CASES[@]} cases in $OUT"
