#!/usr/bin/env bash
# deps.sh: install the Debian packages expectscope needs that are missing.
#   deps.sh build   what building and running needs
#   deps.sh test    that, plus what the test suite needs
# Nothing else is downloaded; every package comes from Debian 12.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libpcap-dev libndpi-dev libsqlite3-dev
            node-llhttp zlib1g-dev liblzma-dev libzstd-dev libcurl4-openssl-dev)
# Not installed here: regenerating the committed real-traffic captures is a manual step.
#   tests/capture/make-corpus.sh: tcpdump tshark nginx-light libnginx-mod-http-echo
#     lighttpd squid curl nodejs iproute2 ethtool
#   tests/capture/make-paths.sh: tcpdump tshark (mergecap) nginx libnginx-mod-http-echo
#     squid haproxy apache2 varnish curl iproute2 ethtool (see tests/capture/README.md)
# prometheus: for promtool only (tests/metrics/check_promtool.py checks the --metrics file)
# systemd: systemd-analyze verifies the unit in contrib/
# iproute2, ethtool, nginx, curl, tcpdump, tcpreplay: tests/live/ (network namespaces,
# real servers and clients, a reference capture, replay at speed)
# clickhouse-server: tests/fleet/ starts two of them on loopback as a two-shard cluster
# chromium: the HTML report in a headless browser (tests/export/test_html_browser.py);
# nodejs: the HAR export read the way a browser's HAR import reads it (har_load.js)
test_pkgs=(python3 sqlite3 clang man-db prometheus systemd iproute2 ethtool nginx curl
           tcpdump tcpreplay chromium nodejs clickhouse-server clickhouse-client)

want=("${build_pkgs[@]}")
if [ "${1:-build}" = test ]; then
    want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
# Debian starts and enables a package's service on install where systemd runs (a
# container without it, or with a policy-rc.d that says no, starts nothing). We want
# promtool, not a Prometheus server: stop and disable the one this install started.
# The same for nginx: the live tests start their own, inside a network namespace; and
# for clickhouse-server: tests/fleet/ starts its own two, on loopback ports it picks.
for svc in prometheus nginx clickhouse-server; do
    if [[ " ${missing[*]} " == *" $svc "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
    fi
done
