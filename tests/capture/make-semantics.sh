#!/usr/bin/env bash
# make-semantics.sh: regenerate the issue 14 captures in tests/pcap/ (exact
# server_closed, orphan responses, failed retries after a 417, client expectation
# timers) with real clients (curl, python) and small python servers
# (semantics-peers.py, peers.py).
#
# Usage (as root): tests/capture/make-semantics.sh [CASE...]
#   With no CASE, every case is captured. `make-semantics.sh --list` prints the names.
#
# As make-corpus.sh (tests/capture/README.md), but in namespaces of its own (esm-cli,
# esm-srv; both removed on exit, with every process started here, stopped by PID), so
# that it can run next to make-corpus.sh. Only the client <-> server veth pair (MTU
# 1500, offloads off) is made; captures are taken on the client's side. The
# tests/pcap/<case>.pcap and .conv files are rewritten; the hand-checked .expected files
# are not (the script prints what `expectscope analyze --list` gives, to compare).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)/pcap
SPEERS="$HERE/semantics-peers.py"
PEERS="$HERE/peers.py"
BIN=${EXPECTSCOPE:-$(cd "$HERE/../.." && pwd)/build/expectscope}

LOG_TAG=make-semantics
# shellcheck source=netns-lib.sh
source "$HERE/netns-lib.sh"
CLI_NS=esm-cli SRV_NS=esm-srv PRX_NS=esm-prx   # not make-corpus.sh's: both may run
PORT=8081

ALL_CASES=(
    server-rst-mid-upload server-fin-mid-upload orphan-400-greeting
    retry-417-then-401 retry-417-twice curl-expect-timers
)
if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL_CASES[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
need_tools ip tcpdump tshark curl python3
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
for c in "${CASES[@]}"; do
    [[ " ${ALL_CASES[*]} " == *" $c "* ]] || die "unknown case '$c' (see --list)"
done
netns_init expectscope-semantics

setup_pair() {
    local ns
    for ns in "$CLI_NS" "$SRV_NS"; do
        ip netns del "$ns" 2>/dev/null || true
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0 \
            net.ipv6.conf.default.router_solicitations=0 \
            net.ipv6.conf.default.dad_transmits=0 net.ipv6.conf.all.disable_ipv6=1
    done
    link "$CLI_NS" es-c0 "$SRV_NS" es-s0
    ip -n "$CLI_NS" addr add "$CLI4/24" dev es-c0
    ip -n "$SRV_NS" addr add "$SRV4/24" dev es-s0
    neigh "$CLI_NS" es-c0 "$SRV4" "$SRV_NS" es-s0
    neigh "$SRV_NS" es-s0 "$CLI4" "$CLI_NS" es-c0
    sleep 1
}

server() {   # server py|speers ROLE [PORT]: start a server on $SRV4
    local kind=$1 role=$2 port=${3:-$PORT} prog=$SPEERS
    [[ $kind == py ]] && prog=$PEERS
    bg "$SRV_NS" "server-$role" python3 "$prog" server "$role" --listen "$SRV4:$port"
    SERVERS+=("$BG_PID")
    wait_listen "$SRV_NS" "$port"
}
servers_stop() {
    local pid
    for pid in "${SERVERS[@]}"; do stop "$pid"; done
    SERVERS=()
}
SERVERS=()

direct() {   # direct CASE CMD...: capture CMD on the client's side of the link
    local name=$1; shift
    cap_start "$CLI_NS" es-c0 "$WORK/pcap/$name.pcap"
    "$@"
    cap_stop
}

U="http://$SRV4:$PORT"
EXP=(-H 'Expect: 100-continue')
BIG() { echo "@$WORK/body1m"; }
speer() { cli python3 "$SPEERS" client "$@"; }
curl_ok() { curl_cli "$@" || true; }   # the server cuts some uploads off on purpose

# A 1 MiB upload the server resets after 8 KiB: conn_reset and server_closed.
case_server-rst-mid-upload() {
    server speers rst-mid
    direct server-rst-mid-upload curl_ok "${EXP[@]}" --data-binary "$(BIG)" "$U/upload"
    servers_stop
}
# A 1 MiB upload the server answers 413 and FINs after 8 KiB: server_closed.
case_server-fin-mid-upload() {
    server speers fin-mid
    direct server-fin-mid-upload curl_ok "${EXP[@]}" --data-binary "$(BIG)" "$U/upload"
    servers_stop
}
# A server's 400 to a connection that sent nothing: orphan_response, no verdict.
case_orphan-400-greeting() {
    server speers greet400
    direct orphan-400-greeting speer silent --connect "$SRV4:$PORT"
    servers_stop
}
# 417 to the Expect request, then 401 to its retry without Expect: retry_failed.
case_retry-417-then-401() {
    server speers 417-401
    direct retry-417-then-401 cli python3 "$PEERS" client retry417 --connect "$SRV4:$PORT"
    servers_stop
}
# 417, and 417 again to the retry without Expect: retry_failed.
case_retry-417-twice() {
    server speers always417
    direct retry-417-twice cli python3 "$PEERS" client retry417 --connect "$SRV4:$PORT"
    servers_stop
}
# Clients with known expectation timers against a server that never sends 100
# (peers.py no100): curl --expect100-timeout 0.35 (x3), curl's default 1 s (x3, and x2
# with no User-Agent), 3 s (x2); then two long waits: curl --expect100-timeout 7, and
# a client that never sends its body until the server gives up (408 after 6 s).
case_curl-expect-timers() {
    server py no100
    server speers giveup 8082
    local b4k="@$WORK/body4k"
    cap_start "$CLI_NS" es-c0 "$WORK/pcap/curl-expect-timers.pcap"
    # one --data-binary for all the URLs of a curl (more would be joined with '&')
    curl_cli -A "uploader-a/1.0" --expect100-timeout 0.35 "${EXP[@]}" --data-binary "$b4k" \
        "$U/a1" "$U/a2" "$U/a3" >/dev/null
    curl_cli -A "uploader-b/1.0" "${EXP[@]}" --data-binary "$b4k" "$U/b1" "$U/b2" "$U/b3" \
        >/dev/null
    curl_cli -A "uploader-c/1.0" --expect100-timeout 3 "${EXP[@]}" --data-binary "$b4k" \
        "$U/c1" "$U/c2" >/dev/null
    curl_cli -H "User-Agent:" "${EXP[@]}" --data-binary "$b4k" "$U/n1" "$U/n2" >/dev/null
    curl_cli -A "patient/1.0" --expect100-timeout 7 "${EXP[@]}" --data-binary "$b4k" \
        "$U/p1" >/dev/null
    speer wait-forever --connect "$SRV4:8082"
    cap_stop
    servers_stop
}

mkdir -p "$WORK/pcap" "$OUT"
python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import peers
open(sys.argv[2] + "/body4k", "wb").write(peers.make_body(4096))
open(sys.argv[2] + "/body1m", "wb").write(peers.make_body(1 << 20))' "$HERE" "$WORK"
setup_pair
for c in "${CASES[@]}"; do
    for attempt in 1 2 3; do
        log "capturing $c"
        CAP_DROPS=0
        "case_$c"
        [[ $CAP_DROPS -eq 0 ]] && break
        [[ $attempt -lt 3 ]] || die "$c: the kernel dropped packets three times"
        log "$c: the kernel dropped $CAP_DROPS packet(s), capturing again"
    done
done
for c in "${CASES[@]}"; do
    install -m 644 "$WORK/pcap/$c.pcap" "$OUT/$c.pcap"
    "$HERE/tshark-conv.sh" "$OUT/$c.pcap" >"$OUT/$c.conv"
    printf '%-30s %7d bytes\n' "$c.pcap" "$(stat -c %s "$OUT/$c.pcap")" >&2
    if [[ -x $BIN ]]; then
        "$BIN" analyze --no-db --list -q "$OUT/$c.pcap" >&2 || true
    fi
done
log "done: ${#CASES[@]} captures in $OUT; compare with their .expected"
