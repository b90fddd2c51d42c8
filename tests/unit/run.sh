#!/bin/sh
# Runs each unit test binary given as an argument with LeakSanitizer on and
# UBSan fatal, shows its output, and adds up the "NAME: P passed, F failed"
# lines. A binary that crashes, leaks (LSan exits non-zero after main) or
# prints no summary counts as one more failure, so nothing fails silently.
# Last line: "N passed, N failed"; the exit status is non-zero on a failure.

ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# lsan.supp: a leak inside libxml2 itself, see there
LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

passed=0
failed=0
for t in "$@"; do
	log="$t.log"
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	sum=$(sed -n 's/^[A-Za-z0-9_]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' \
		"$log" | tail -n 1)
	if [ -n "$sum" ]; then
		passed=$((passed + ${sum% *}))
		failed=$((failed + ${sum#* }))
	fi
	if [ -z "$sum" ] || { [ "$rc" -ne 0 ] && [ "${sum#* }" = 0 ]; }; then
		echo "FAIL $t: exit status $rc (crash, sanitizer report or leak)"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
