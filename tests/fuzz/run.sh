#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] — build the libFuzzer targets with clang (ASan+UBSan) and run each
# for SECONDS (default 60). Needs clang-14 (apt-get install clang-14). Crashes land in
# build-fuzz/<target>/ as crash-* files; the corpus is kept there between runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
secs="${1:-60}"
cxx="$(command -v clang++-14 || command -v clang++)"
out="$root/build-fuzz/tls_input"
mkdir -p "$out/corpus"
"$cxx" -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -I"$root/src" -I"$root/tests" \
    "$root/tests/fuzz/tls_input_fuzz.cc" "$root/src/tls/client_hello.cc" \
    "$root/src/tls/peer_records.cc" "$root/src/tls/alerts.cc" -o "$out/fuzz"
cd "$out" && ./fuzz -max_total_time="$secs" -max_len=4096 corpus
