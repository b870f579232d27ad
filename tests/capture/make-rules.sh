#!/usr/bin/env bash
# make-rules.sh: regenerate the real-software captures of tests/rules/ (rules that
# real clients and servers break: see docs/rules.md and tests/rules/test_rules.py).
#
# Usage (as root): tests/capture/make-rules.sh [CASE...]
#   With no CASE, every case is captured. `make-rules.sh --list` prints the case names.
#
# The same set-up as make-corpus.sh (netns-lib.sh: namespaces joined by veth pairs,
# MTU 1500, offloads off, tcpdump with a drop check, everything removed on exit), in
# namespaces of its own (esr-*) so that it can run beside make-corpus.sh. Nothing is
# sent outside them. tests/rules/<case>.pcap is rewritten; the rows each capture must
# give are in tests/rules/test_rules.py (checked by hand, never written here).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)/rules
PEERS="$HERE/peers.py"

LOG_TAG=make-rules
# shellcheck source=netns-lib.sh
source "$HERE/netns-lib.sh"
CLI_NS=esr-cli SRV_NS=esr-srv PRX_NS=esr-prx   # not make-corpus.sh's es-*
CASE_PORT=8081

ALL_CASES=(curl-post-retry-reset python-crash-after-100 node-upgrade-no-100)

if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL_CASES[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
need_tools ip tcpdump curl python3 node

CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
for c in "${CASES[@]}"; do
    [[ " ${ALL_CASES[*]} " == *" $c "* ]] || die "unknown case '$c' (see --list)"
done

netns_init expectscope-rules

# C11: curl told to retry on every error (--retry-all-errors) sends its POST again
# after the server reset the connection without an answer.
case_curl-post-retry-reset() {
    bg "$SRV_NS" server python3 "$PEERS" server reset-first --listen "$SRV4:$CASE_PORT"
    local server=$BG_PID
    wait_listen "$SRV_NS" "$CASE_PORT"
    cap_start "$CLI_NS" es-c0 "$WORK/pcap/curl-post-retry-reset.pcap"
    curl_cli --retry 1 --retry-all-errors --retry-delay 1 -H 'Expect:' \
        --data-binary "@$WORK/body4k" "http://$SRV4:$CASE_PORT/order" ||
        die "curl did not get its answer on the retry"
    cap_stop
    stop "$server"
}

# S5: python's http.server sends the stock 100, the handler fails once it has read the
# body, and the server closes the connection with no final status (curl: empty reply).
case_python-crash-after-100() {
    bg "$SRV_NS" server python3 "$PEERS" server crash --listen "$SRV4:$CASE_PORT"
    local server=$BG_PID
    wait_listen "$SRV_NS" "$CASE_PORT"
    cap_start "$CLI_NS" es-c0 "$WORK/pcap/python-crash-after-100.pcap"
    curl_cli -H 'Expect: 100-continue' --data-binary "@$WORK/body4k" \
        "http://$SRV4:$CASE_PORT/upload" && die "curl got an answer from the crash server"
    cap_stop
    stop "$server"
}

# S8: node's http server with an 'upgrade' listener answers 101 at once to a request
# that has both Upgrade and Expect: 100-continue, with no 100 first.
case_node-upgrade-no-100() {
    bg "$SRV_NS" server node "$HERE/node-peers.js" server upgrade "$SRV4" "$CASE_PORT"
    local server=$BG_PID
    wait_listen "$SRV_NS" "$CASE_PORT"
    cap_start "$CLI_NS" es-c0 "$WORK/pcap/node-upgrade-no-100.pcap"
    curl_cli -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Expect: 100-continue' \
        --data-binary "@$WORK/body4k" "http://$SRV4:$CASE_PORT/chat" || true
    cap_stop
    stop "$server"
}

mkdir -p "$WORK/pcap" "$OUT"
python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import peers
open(sys.argv[2] + "/body4k", "wb").write(peers.make_body(4096))' "$HERE" "$WORK"
setup_netns

for c in "${CASES[@]}"; do
    for attempt in 1 2 3; do
        log "capturing $c"
        CAP_DROPS=0
        "case_$c"
        [[ $CAP_DROPS -eq 0 ]] && break
        [[ $attempt -lt 3 ]] || die "$c: the kernel dropped packets three times (machine busy?)"
        log "$c: the kernel dropped $CAP_DROPS packet(s), capturing again"
    done
    install -m 644 "$WORK/pcap/$c.pcap" "$OUT/$c.pcap"
    printf '%-34s %7d bytes\n' "$c.pcap" "$(stat -c %s "$OUT/$c.pcap")" >&2
done
log "done: ${#CASES[@]} captures in $OUT"
