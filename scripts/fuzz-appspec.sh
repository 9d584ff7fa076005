#!/usr/bin/env bash
# Fuzzes the AppSpec parser with libFuzzer: builds the AppSpecFuzzer target with coverage instrumentation and
# AddressSanitizer (Swift and Yams' libyaml alike), seeds a corpus from the test fixtures, and runs a bounded pass.
# Exits non-zero when an input crashes, corrupts memory, hangs or exhausts memory; the input is saved as
# fuzz-corpus/crash-* (or timeout-*, oom-*) and replays with `swift run AppSpecFuzzer <file>`.
#
#   scripts/fuzz-appspec.sh                      # 1,000,000 inputs
#   scripts/fuzz-appspec.sh --runs 20000         # what CI runs
#   scripts/fuzz-appspec.sh --time 600 -j 2      # ten minutes on two processes
#   scripts/fuzz-appspec.sh -- -max_len=65536    # anything after -- goes to libFuzzer
#
# Run from anywhere; builds in .build-fuzz (separate from the normal build folder). Needs Linux and a swift.org
# toolchain, which ships libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1000000
seconds=""
jobs=1
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --time) seconds="$2"; shift 2 ;;
        -j|--jobs) jobs="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: $0 [--runs N] [--time SECONDS] [-j JOBS] [-- libFuzzer options]" >&2; exit 2 ;;
    esac
done

# Instrumentation: coverage (what -sanitize=fuzzer would add) and AddressSanitizer, for Swift and for libyaml.
# libFuzzer itself is linked without its `main` (libclang_rt.fuzzer_no_main): SwiftPM links an executable with
# `main` aliased to the module's entry point, which would clash with libFuzzer's own; the fuzzer's top-level code
# calls LLVMFuzzerRunDriver instead.
scratch=.build-fuzz
resource_dir="$(swiftc -print-target-info | sed -n 's/.*"runtimeResourcePath": "\(.*\)".*/\1/p' | head -n 1)"
fuzzer_library="$(ls "$resource_dir"/../clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a 2>/dev/null | head -n 1)"
if [ -z "$fuzzer_library" ]; then
    echo "fuzz-appspec: this toolchain has no libFuzzer (libclang_rt.fuzzer_no_main); use a swift.org toolchain" >&2
    exit 2
fi
build=(swift build -c release --scratch-path "$scratch" --product AppSpecFuzzer
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
    -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address -Xlinker "$fuzzer_library" -Xlinker -lstdc++)
echo "fuzz-appspec: building AppSpecFuzzer (release, coverage + AddressSanitizer) in $scratch"
"${build[@]}"
binary="$("${build[@]}" --show-bin-path)/AppSpecFuzzer"

# The corpus: every fixture (valid and invalid AppSpecs), kept between runs in fuzz-corpus/ (git-ignored).
corpus=fuzz-corpus
mkdir -p "$corpus"
find Tests/AppSpecTests/Fixtures -type f ! -name '*.expect' -exec cp {} "$corpus"/ \;

options=(-max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$corpus/")
if [ -n "$seconds" ]; then options+=(-max_total_time="$seconds"); else options+=(-runs="$runs"); fi
if [ "$jobs" -gt 1 ]; then
    # -runs counts per job; split the total between the jobs.
    if [ -z "$seconds" ]; then options=("${options[@]/-runs=$runs/-runs=$(((runs + jobs - 1) / jobs))}"); fi
    options+=(-jobs="$jobs" -workers="$jobs")
fi
# Leak detection is off: Swift's runtime keeps some allocations to the end of the process on purpose. Swift's own
# backtracer is off too: at a trap it reads the stack from a helper thread, which AddressSanitizer reports as a
# second, unrelated error after the real one.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

echo "fuzz-appspec: $binary ${options[*]} ${extra[*]:-} $corpus"
start=$(date +%s)
status=0
"$binary" "${options[@]}" "${extra[@]}" "$corpus" || status=$?
echo "fuzz-appspec: finished in $(($(date +%s) - start)) s with status $status"
if [ "$status" -ne 0 ]; then
    echo "fuzz-appspec: FAILED; the failing input is in $corpus/ (crash-*, timeout-*, oom-*)" >&2
fi
exit "$status"
