#!/usr/bin/env bash
# test.sh: install what the tests need, build with AddressSanitizer and
# UndefinedBehaviorSanitizer (warnings are errors), and run the whole suite
# through CTest. The build goes to build-asan/ at the top of the repository.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh test
cmake -S . -B build-asan -DES_SANITIZE=ON -DES_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
