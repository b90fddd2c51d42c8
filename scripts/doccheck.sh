#!/bin/sh
# Checks the module's documentation against its code, without the DocBook
# tool chain (xmllint only, from libxml2-utils):
#  1. modules/blf/doc/blf.xml (with its XIncludes and Kamailio's entities)
#     is well-formed, so `make doc' can render it;
#  2. every parameter, RPC command and statistic the module exports is
#     named in the DocBook (as a section title) and in the README (in
#     backquotes), so none is added without its documentation.
# Names are read from the exports in modules/blf/*.c; statistics ending in
# _<package> are documented once as notifies_sent_<package>.
# Usage: sh scripts/doccheck.sh   (needs the Kamailio source tree of `make')
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=${KAMAILIO_SRC:-$top/build/kamailio-src}
mod=$top/modules/blf
doc=$mod/doc
fail=0

if [ ! -f "$src/doc/docbook/entities.xml" ]; then
	echo "doccheck: no Kamailio docbook entities in $src/doc (run 'make'" \
		"first or set KAMAILIO_SRC)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/modules/blf/doc"
ln -s "$src/doc" "$tmp/doc"
cp "$doc"/*.xml "$tmp/src/modules/blf/doc/"
if ! (cd "$tmp/src/modules/blf/doc" &&
	xmllint --nonet --xinclude --noent --noout blf.xml); then
	echo "doccheck: modules/blf/doc/blf.xml is not well-formed" >&2
	fail=1
fi

# the exported names: {"name", ... in the param, rpc and stat export tables
exports() {
	sed -n "/$1/,/{0, 0, 0}\|{0, 0}/p" "$mod"/*.c |
		grep -o '^[[:space:]]*{"[a-z_.0-9]*"' | tr -d '{" \t'
}
params=$(exports 'param_export_t params\[\]')
rpcs=$(exports 'rpc_export_t')
stats=$(exports 'stat_export_t')
# section titles, one per line (a title may span lines in the source)
titles=$(tr '\n\t' '  ' < "$doc/blf_admin.xml" |
	grep -o '<title>[^<]*\(<[a-z]*>[^<]*</[a-z]*>[^<]*\)*</title>')
n=0
for name in $params $rpcs $stats; do
	n=$((n + 1))
	case $name in
		notifies_sent_*) continue ;; # documented as notifies_sent_<package>
	esac
	printf '%s\n' "$titles" | grep -q ">$name<\|[ >]$name[ <]" || {
		echo "doccheck: $name has no section in modules/blf/doc/blf_admin.xml" >&2
		fail=1
	}
	grep -q "\`$name[\` (]" "$top/README" || {
		echo "doccheck: $name is not named in README" >&2
		fail=1
	}
done
[ "$n" -gt 50 ] || {
	echo "doccheck: found only $n exported names: the export tables moved?" >&2
	fail=1
}
[ $fail = 0 ] && echo "doccheck: blf.xml well-formed; $n parameters, RPCs and statistics documented in both"
exit $fail
