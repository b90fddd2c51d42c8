#!/bin/sh
# test_layercheck.sh -- proves scripts/layercheck.py fails when it must and
# passes when it may: tiny C files that call each other are compiled into
# real object files (cc -c) in a scratch directory, and the script's exit
# status and report are checked for
#   1. a loop of three files that also climbs layers (pure -> tables -> faces
#      -> pure): exit 1, the loop and both climbs printed with their symbols;
#   2. a loop inside one layer (subs <-> notify): exit 1, no climb reported;
#   3. the same files with an allow list naming those edges: exit 0, and an
#      allowed edge that does not exist reported as gone;
#   4. calls that only go down (faces -> machinery -> tables -> pure): exit 0;
#   5. a file with no layer: exit 1;
#   6. a pure file needing something that is not libc/jansson/libxml2: exit 1.
# Prints "test_layercheck: P passed, F failed" (the unit tests' format);
# exit status non-zero on a failure.

here=$(cd "$(dirname "$0")" && pwd)
lc="${PYTHON:-/usr/bin/python3} $here/layercheck.py"
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/layercheck.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; sed 's/^/     | /' "$tmp/out"; }

# unit NAME DIR CALLS... : DIR/NAME.c defines NAME_fn() calling each CALL()
unit() {
	name=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	{
		for c in "$@"; do echo "void $c(void);"; done
		echo "void ${name}_fn(void) {"
		for c in "$@"; do echo "	$c();"; done
		echo "}"
	} >"$dir/$name.c"
	$CC -c -o "$dir/$name.o" "$dir/$name.c" || { echo "cc failed"; exit 2; }
}

# run DIR [ARGS]: the script's output in $tmp/out, its status in $rc
run() {
	d=$1
	shift
	$lc "$@" "$d" >"$tmp/out" 2>&1
	rc=$?
}

has() { grep -qF -- "$1" "$tmp/out"; }

# 1. pure -> tables -> faces -> pure
d=$tmp/loop3
unit blf_xml $d blf_entity_fn
unit blf_entity $d blf_mod_fn
unit blf_mod $d blf_xml_fn
run $d
[ "$rc" = 1 ] && ok || bad "loop3: exit $rc, want 1"
has "call loop of 3 files (blf_entity.c blf_mod.c blf_xml.c)" && ok || bad "loop3: no loop"
has "blf_entity.c -> blf_mod.c (blf_mod_fn)" && ok || bad "loop3: no step"
has "layer violation: blf_xml.c (pure) calls up into blf_entity.c (tables): blf_entity_fn" \
	&& ok || bad "loop3: no pure -> tables climb"
has "layer violation: blf_entity.c (tables) calls up into blf_mod.c (faces): blf_mod_fn" \
	&& ok || bad "loop3: no tables -> faces climb"
has "blf_mod.c (faces) calls up" && bad "loop3: faces -> pure is a call down" || ok

# 2. a loop inside one layer
d=$tmp/loop2
unit blf_subs $d blf_notify_fn blf_xml_fn
unit blf_notify $d blf_subs_fn
unit blf_xml $d
run $d
[ "$rc" = 1 ] && ok || bad "loop2: exit $rc, want 1"
has "call loop of 2 files (blf_notify.c blf_subs.c)" && ok || bad "loop2: no loop"
has "layer violation" && bad "loop2: a climb reported inside one layer" || ok

# 3. the same, allowed (and one allowed edge that does not exist)
printf '%s\n' "# known" "blf_notify.c -> blf_subs.c  # the loop" \
	"blf_xml.c -> blf_subs.c # gone" >"$tmp/allow"
run $d --allow "$tmp/allow"
[ "$rc" = 0 ] && ok || bad "allowed: exit $rc, want 0"
has "blf_xml.c -> blf_subs.c is gone" && ok || bad "allowed: stale entry not reported"
printf 'blf_notify.c => blf_subs.c\n' >"$tmp/allow2"
run $d --allow "$tmp/allow2"
[ "$rc" != 0 ] && has "not 'a.c -> b.c'" && ok || bad "malformed allow list accepted"

# 4. only calls down
d=$tmp/down
unit blf_mod $d blf_subs_fn blf_xml_fn
unit blf_subs $d blf_entity_fn blf_xml_fn
unit blf_entity $d blf_xml_fn
unit blf_xml $d
run $d --graph
[ "$rc" = 0 ] && ok || bad "down: exit $rc, want 0"
has "no loop, no call up a layer" && ok || bad "down: no clean verdict"
has "blf_subs.c (machinery) -> blf_entity.c (tables): blf_entity_fn" && ok \
	|| bad "down: --graph misses an edge"

# 5. a file without a layer
unit blf_newthing $d blf_xml_fn
run $d
[ "$rc" = 1 ] && has "blf_newthing.c has no layer" && ok || bad "unmapped file accepted"

# 6. a pure file that needs Kamailio (its allocator, its log): exit 1; one
# that needs libc and jansson only: fine
d=$tmp/pure
unit blf_json $d json_loadb getpid
unit blf_xml $d shm_malloc_x _km_log_func
run $d
[ "$rc" = 1 ] && ok || bad "pure: exit $rc, want 1"
has "pure file blf_xml.c needs what is not libc, jansson or libxml2: _km_log_func, shm_malloc_x" \
	&& ok || bad "pure: Kamailio symbols not reported"
has "pure file blf_json.c" && bad "pure: libc and jansson reported" || ok

# no objects at all: a usage error, never a pass
mkdir -p "$tmp/empty"
run "$tmp/empty"
[ "$rc" = 2 ] && ok || bad "empty dir: exit $rc, want 2"

echo "test_layercheck: $passed passed, $failed failed"
[ "$failed" = 0 ]
