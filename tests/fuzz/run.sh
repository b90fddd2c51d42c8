#!/bin/sh
# Runs each libFuzzer harness given as an argument (bin/fuzz_<name>) for a
# bounded time over its seed corpus (corpus/<name>/, read only: new inputs go
# to out/<name>/corpus/, which later runs reuse and git ignores). Prints one
# line per harness (runs, executions per second, corpus size) and, when a
# harness finds something (crash, leak, UBSan report, timeout, out of
# memory), the sanitizer report, the reproducer file and the command that
# replays it. Exit status: non-zero when any harness found something.
#
#   FUZZ_SECONDS   seconds per harness (default 20)
#   FUZZ_BUDGET    seconds for all harnesses together: each gets
#                  min(FUZZ_SECONDS, max(5, FUZZ_BUDGET / count))
#   FUZZ_ONLY      run only the harness of this name (e.g. json)
#   FUZZ_ARGS      more libFuzzer flags (e.g. -seed=1 -max_len=65536)

here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-20}
count=0
for b in "$@"; do
	n=$(basename "$b")
	n=${n#fuzz_}
	if [ -z "$FUZZ_ONLY" ] || [ "$FUZZ_ONLY" = "$n" ]; then
		count=$((count + 1))
	fi
done
if [ "$count" -eq 0 ]; then
	echo "fuzz: no harness to run${FUZZ_ONLY:+ named $FUZZ_ONLY}" >&2
	exit 1
fi
if [ -n "$FUZZ_BUDGET" ]; then
	share=$((FUZZ_BUDGET / count))
	[ "$share" -lt 5 ] && share=5
	[ "$share" -lt "$secs" ] && secs=$share
fi

# leaks are findings; UBSan reports abort (the build makes them fatal too)
ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

failed=0
total_start=$(date +%s)
for b in "$@"; do
	n=$(basename "$b")
	n=${n#fuzz_}
	[ -n "$FUZZ_ONLY" ] && [ "$FUZZ_ONLY" != "$n" ] && continue
	seeds="$here/corpus/$n"
	out="$here/out/$n"
	mkdir -p "$out/corpus"
	[ -d "$seeds" ] || echo "fuzz $n: no seed corpus ($seeds)"
	log="$out/fuzz.log"
	# shellcheck disable=SC2086
	"$b" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-use_value_profile=1 -print_final_stats=1 \
		-artifact_prefix="$out/" $FUZZ_ARGS \
		"$out/corpus" $([ -d "$seeds" ] && echo "$seeds") >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	[ -n "$took" ] && [ "$took" -gt 0 ] || took=$secs
	corp=$(ls "$out/corpus" | wc -l)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz $n: ok, ${runs:-?} runs in ${took} s" \
			"($(( ${runs:-0} / took )) exec/s), $corp inputs in $out/corpus"
		continue
	fi
	failed=$((failed + 1))
	echo "fuzz $n: FAILED (exit status $rc) after ${runs:-?} runs; report:"
	grep -v -e "^#[0-9]" -e "^INFO:" -e "^MS: " -e "^Base64: " -e "^0x" "$log" | head -n 80 | sed "s/^/    /"
	art=$(sed -n 's/^.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if [ -n "$art" ]; then
		echo "fuzz $n: reproducer $art"
		echo "fuzz $n: replay with: $b $art"
	else
		echo "fuzz $n: no reproducer written; full log $log"
	fi
done
echo "fuzz: $count harness(es), ${secs} s each, $(( $(date +%s) - total_start )) s," \
	"$failed failed"
[ "$failed" -eq 0 ]
