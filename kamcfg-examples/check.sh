#!/bin/sh
# check.sh -- syntax check of the example configurations against a blf.so.
#
#   sh kamcfg-examples/check.sh [path/to/blf.so]
#
# `kamailio -c' parses a configuration, loads its modules and fixes up the
# routing script (it does not run mod_init, so a database need not exist).
# blf.so need not be installed: a temporary module directory holds links to
# Kamailio's modules and to the given blf.so. Each #!define option of the
# PBX configuration is checked too, and each node and option of the cluster
# configuration.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
blf=${1:-$here/../modules/blf/blf.so}
mods=${KAMAILIO_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}
[ -f "$blf" ] || { echo "check: no $blf (run make first)" >&2; exit 1; }
blf=$(cd "$(dirname "$blf")" && pwd)/$(basename "$blf")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for m in "$mods"/*.so; do
	ln -s "$m" "$tmp/"
done
ln -sf "$blf" "$tmp/blf.so"

fail=0
check() {
	if kamailio -c -L "$tmp" "$@" >"$tmp/out" 2>&1; then
		echo "ok    $*"
	else
		echo "FAIL  $*"
		grep -E "ERROR|CRITICAL" "$tmp/out" | sed 's/^/      /'
		fail=1
	fi
}
check -f "$here/kamailio-blf-minimal.cfg"
for opts in "" "-A WITH_NAT" "-A WITH_TRACK_ALL" "-A WITH_PRIVACY" \
	"-A WITH_BLF_DB" "-A WITH_PBX_HTTP" \
	"-A WITH_NAT -A WITH_TRACK_ALL -A WITH_PRIVACY -A WITH_BLF_DB -A WITH_PBX_HTTP"; do
	# shellcheck disable=SC2086
	check $opts -f "$here/kamailio-blf-pbx.cfg"
done
# the cluster: each node, each option (WITH_DMQ_TLS when tls.so is there)
for node in NODE_A NODE_B NODE_C; do
	for opts in "" "-A WITH_VIP" "-A WITH_BLF_PGSQL" "-A WITHOUT_BLF_DB"; do
		# shellcheck disable=SC2086
		check -A $node $opts -f "$here/kamailio-blf-cluster.cfg"
	done
	if [ -f "$mods/tls.so" ]; then
		check -A $node -A WITH_DMQ_TLS -f "$here/kamailio-blf-cluster.cfg"
	fi
done
exit $fail
