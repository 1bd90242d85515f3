#!/usr/bin/env bash
# run.sh - runs one libFuzzer harness of tests/fuzz for a while and prints one summary line
# (docs/fuzzing.md). Used by `make fuzz` and by the ctest smoke tests of `make test`.
#
#   run.sh [--smoke] BINARY SECONDS WORKDIR
#
# BINARY is build-fuzz/fuzz/fuzz_<name>; its seeds are corpus/<name>/ next to this script, with
# <name>.dict and <name>.options (extra libFuzzer flags, one per line) when they exist. New
# inputs go to WORKDIR/<name>/corpus, never into the checked-in corpus; with --smoke that is a
# fresh directory, removed afterwards. Crash, leak and timeout inputs are kept in
# WORKDIR/<name>/ (crash-*, leak-*, timeout-*), the full log in WORKDIR/<name>/fuzz.log.
# Exit status: 0 when the fuzzer found nothing, else 1.
set -uo pipefail

smoke=0
if [ "${1:-}" = "--smoke" ]; then
    smoke=1
    shift
fi
if [ $# -ne 3 ]; then
    echo "usage: $0 [--smoke] BINARY SECONDS WORKDIR" >&2
    exit 2
fi
bin=$1 secs=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$bin")
name=${name#fuzz_}
seeds=$here/corpus/$name
out=$work/$name
mkdir -p "$out"
if [ $smoke -eq 1 ]; then
    corpus=$(mktemp -d "$out/smoke.XXXXXX")
else
    corpus=$out/corpus
    mkdir -p "$corpus"
fi
log=$out/fuzz.log

flags=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$out/")
[ -f "$here/$name.dict" ] && flags+=(-dict="$here/$name.dict")
if [ -f "$here/$name.options" ]; then
    while read -r opt; do
        [ -n "$opt" ] && [ "${opt#\#}" = "$opt" ] && flags+=("$opt")
    done <"$here/$name.options"
fi
dirs=("$corpus")
[ -d "$seeds" ] && dirs+=("$seeds")

# Leaks are findings too; an abort in the code under test must reach libFuzzer's handler.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bin" "${flags[@]}" "${dirs[@]}" >"$log" 2>&1
rc=$?

stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
runs=$(stat number_of_executed_units)
eps=$(stat average_exec_per_sec)
last=$(grep -aE '^#[0-9]+' "$log" | tail -1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
if [ $rc -eq 0 ]; then
    result=ok
else
    kind=$(grep -aoE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)[^ ]*: [a-z-]+|runtime error|property violated|ALARM: working on the last Unit for' "$log" | head -1)
    result="FAILED (exit $rc: ${kind:-see log})"
fi
printf '%-10s runs %-10s exec/s %-7s cov %-6s ft %-7s corpus %-6s %s\n' "$name" "${runs:-?}" \
    "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
if [ $rc -ne 0 ]; then
    # What went wrong and where: the finding's first lines and its frames in our code.
    grep -aE 'ERROR:|runtime error|property violated|SUMMARY' "$log" | head -5 | sed 's/^/  /' >&2
    grep -aE '^ *#[0-9]+ 0x.* in .*/(src|tests)/' "$log" | head -8 | sed 's/^/  /' >&2
    art=$(grep -aoE "Test unit written to [^ ]+" "$log" | tail -1)
    echo "  ${art:-no input saved}; log: $log" >&2
fi
[ $smoke -eq 1 ] && rm -rf "$corpus"
[ $rc -eq 0 ]
