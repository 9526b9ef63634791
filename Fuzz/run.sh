#!/bin/sh
# Runs each libFuzzer harness for SECONDS on its corpus and prints one summary row per harness:
# executions (libFuzzer's stat::number_of_executed_units), crashes, timeouts (> 1 s per input),
# out-of-memory, sanitizer reports. Every run is appended to WORK/campaign.tsv (the totals
# over all runs: Fuzz/report.sh). Exits non-zero when any harness crashed, timed out or ran
# out of memory; the input is kept in WORK/artifacts/<harness>/ (reproduce: BIN/<harness> FILE).
# libFuzzer's timeout is wall-clock time, and on a loaded machine a niced process can be
# descheduled for more than a second: every timeout-*/slow-unit-* input is run again on its own
# and counts as a timeout only when it still takes FUZZ_TIMEOUT seconds (default 1) or more.
# Long campaigns on a busy machine use FUZZ_ALARM=10 (libFuzzer stops only after 10 s; inputs
# over 1 s are still kept as slow-unit-* by -report_slow_units and re-checked here).
# FUZZ_RUNS=N also stops each harness after N executions (whichever of the two comes first), so a
# campaign can top a harness up to a target. An interrupted run (SIGINT to the harness, libFuzzer
# exit code 72: stopping a campaign early) still prints its statistics and is recorded; the
# seconds column is the time the harness actually ran.
# Usage: Fuzz/run.sh BIN WORK SECONDS HARNESS...   (run from the repository root)
set -u
bin=$1; work=$2; seconds=$3; shift 3
limit=${FUZZ_TIMEOUT:-1}
alarm=${FUZZ_ALARM:-$limit}
dicts=Fuzz/dict
nice=${FUZZ_NICE:-10}
runs=${FUZZ_RUNS:+-runs=$FUZZ_RUNS}
# AddressSanitizer: malloc may return null as in production (libhdf5 turns a failed huge
# allocation into an error); libFuzzer's -malloc_limit_mb still reports any single allocation
# over the limit as an out-of-memory finding.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=0:handle_abort=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

dict_for() {
    case $1 in
        FuzzNPY) echo npy.dict ;;
        FuzzNd4j) echo nd4j.dict ;;
        FuzzKerasH5) echo hdf5.dict ;;
        FuzzZip|FuzzNPZ|FuzzDL4JZip|FuzzKeras3) echo zip.dict ;;
        *) echo json.dict ;;
    esac
}

failed=0
mkdir -p "$work/logs"
printf '%-15s %8s %12s %8s %8s %8s %8s %10s\n' harness seconds executions exec/s crashes timeouts ooms sanitizer
for h in "$@"; do
    corpus=$work/corpus/$h
    artifacts=$work/artifacts/$h
    mkdir -p "$corpus" "$artifacts"
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    log=$work/logs/$h-$stamp-$$.log   # the PID: two runs started in the same second keep their own logs
    before=$(ls "$artifacts" 2>/dev/null | wc -l)
    start=$(date +%s)
    nice -n "$nice" "$bin/$h" "$corpus" -max_total_time="$seconds" $runs -timeout="$alarm" -report_slow_units="$limit" -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -max_len=65536 -dict="$dicts/$(dict_for "$h")" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" > "$log" 2>&1
    rc=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    new=$(ls -t "$artifacts" 2>/dev/null | head -n $(( $(ls "$artifacts" 2>/dev/null | wc -l) - before )))
    crashes=$(printf '%s\n' "$new" | grep -c '^crash-\|^leak-\|^deadly-signal' || true)
    timeouts=0
    for t in $(printf '%s\n' "$new" | grep '^timeout-\|^slow-unit-'); do
        ms=$("$bin/$h" -runs=1 "$artifacts/$t" 2>&1 | sed -n 's/^Executed .* in \([0-9]*\) ms$/\1/p')
        echo "  $h: $t takes ${ms:-?} ms on its own"
        if [ -z "$ms" ] || [ "$ms" -ge $((limit * 1000)) ]; then timeouts=$((timeouts + 1)); else mv "$artifacts/$t" "$artifacts/recheck-under-limit-$t"; fi
    done
    # a spurious libFuzzer timeout (exit 70) re-checked under the limit is not a failure
    if [ "$rc" -eq 70 ] && [ "$timeouts" -eq 0 ]; then rc=0; fi
    # interrupted on purpose (SIGINT): libFuzzer printed its statistics, nothing was found
    if [ "$rc" -eq 72 ]; then rc=0; fi
    ooms=$(printf '%s\n' "$new" | grep -c '^oom-' || true)
    sanitizer=$(grep -c 'ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer' "$log" || true)
    printf '%-15s %8s %12s %8s %8s %8s %8s %10s\n' "$h" "$elapsed" "${execs:-?}" "${rate:-?}" "$crashes" "$timeouts" "$ooms" "$sanitizer"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$stamp" "$h" "$elapsed" "${execs:-0}" "$crashes" "$timeouts" "$ooms" "$sanitizer" "$rc" >> "$work/campaign.tsv"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ "$timeouts" -ne 0 ] || [ "$ooms" -ne 0 ] || [ "$sanitizer" -ne 0 ]; then
        failed=1
        echo "  -> $h failed (exit $rc), log: $log; inputs: $(printf '%s ' $new)"
    fi
done
exit $failed
