#!/bin/sh
# CI check of the Debian package (make deb-check, part of make test): installs
# the .deb built by `make deb', checks the minimal example with `kamailio -c'
# against the installed module, runs the demo (tests/demo.py) on it, then
# removes the package again. A blf.so already in Kamailio's module directory
# that no package owns (a manual install) is put back afterwards; an
# installed kamailio-blf-module is left alone (the check is skipped).
# Usage: deb-check.sh DEB         (as root)
set -eu
deb=$1
top=$(cd "$(dirname "$0")/.." && pwd)
pkg=kamailio-blf-module
python=${PYTHON:-/usr/bin/python3}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
so=/usr/lib/$multiarch/kamailio/modules/blf.so
ex=/usr/share/doc/$pkg/examples

if [ "$(id -u)" != 0 ]; then
	echo "deb-check: needs root (dpkg -i)" >&2
	exit 1
fi
if dpkg-query -W -f='${Status}' $pkg 2>/dev/null | grep -q "ok installed"; then
	echo "deb-check: $pkg is installed here already; not touching it" >&2
	exit 0
fi
tmp=$(mktemp -d)
saved=""
if [ -e "$so" ]; then
	cp -p "$so" "$tmp/blf.so.saved"
	saved=1
fi
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	if dpkg-query -W -f='${Status}' $pkg 2>/dev/null | grep -q "installed"; then
		dpkg -r $pkg >/dev/null || rc=1
	fi
	[ -n "$saved" ] && cp -p "$tmp/blf.so.saved" "$so"
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT INT TERM

echo "deb-check: dpkg -i $deb"
dpkg -i "$deb" >/dev/null
dpkg -L $pkg | grep -qx "$so"
for f in README README.blf copyright examples/kamailio-blf-minimal.cfg \
		examples/kamailio-blf-pbx.cfg examples/kamailio-blf-cluster.cfg; do
	[ -f "/usr/share/doc/$pkg/$f" ] || { echo "deb-check: no $f" >&2; exit 1; }
done
[ -f /usr/share/kamailio/blf/sqlite/blf-create.sql ]
[ -f /usr/share/kamailio/blf/postgres/blf-create.sql ]

# Kamailio's default module directory now holds blf.so: no -L, no mpath
echo "deb-check: kamailio -c -f $ex/kamailio-blf-minimal.cfg"
kamailio -c -f "$ex/kamailio-blf-minimal.cfg" >"$tmp/check.log" 2>&1 || {
	cat "$tmp/check.log" >&2
	exit 1
}
echo "deb-check: the demo on the installed module"
BLF_MODULE=$so "$python" "$top/tests/demo.py" >"$tmp/demo.log" 2>&1 || {
	cat "$tmp/demo.log" >&2
	exit 1
}
tail -n 3 "$tmp/demo.log"
echo "deb-check: ok, removing $pkg"
