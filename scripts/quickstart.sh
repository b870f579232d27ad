#!/usr/bin/env bash
# quickstart.sh: install what is missing, build, and analyse a capture shipped in the
# repository. Run from anywhere; the build goes to build/ at the top of the repository.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
# the sample run goes to a database of its own under build/, made anew each time, never
# into the user's expectscope.db
rm -f build/quickstart.db build/quickstart.db-wal build/quickstart.db-shm
echo "built build/expectscope; analysing tests/pcap/expect-417-retry.pcap into" \
     "build/quickstart.db:" >&2
./build/expectscope analyze --db build/quickstart.db --list tests/pcap/expect-417-retry.pcap
