#!/bin/sh
# Builds the Debian package kamailio-blf-module with dpkg-deb (no network,
# no debhelper) from a blf.so built for the installed Kamailio.
#
#   /usr/lib/<multiarch>/kamailio/modules/blf.so
#   /usr/share/doc/kamailio-blf-module/{README,README.blf,copyright,
#        changelog.Debian.gz,examples/}
#   /usr/share/kamailio/blf/{sqlite,postgres}/blf-create.sql
#
# A module is tied to the ABI and compile flags of the Kamailio it was built
# against (Kamailio refuses modules built with other flags), so the package
# Depends on exactly the installed kamailio version, and its own version
# carries that version too.
# Usage: mkdeb.sh BLF_SO OUTDIR        (prints the path of the .deb)
set -eu
so=$1
out=$2
top=$(cd "$(dirname "$0")/.." && pwd)
pkg=kamailio-blf-module

[ -f "$so" ] || { echo "mkdeb: no $so (run make module)" >&2; exit 1; }
kver=$(dpkg-query -W -f='${Version}' kamailio 2>/dev/null || true)
[ -n "$kver" ] || { echo "mkdeb: kamailio is not installed" >&2; exit 1; }
# the module must have been built for this kamailio: blf.so names the
# version of the tree it was compiled in
kup=${kver%-*}
kup=${kup#*:}
if ! grep -aq "$kup" "$so"; then
	echo "mkdeb: $so was not built against Kamailio $kup" >&2
	exit 1
fi
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
# version: the date and commit of the tree, + the Kamailio it is built for
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	rev=$(git -C "$top" log -1 --format=%cd.%h --date=format:%Y%m%d)
	git -C "$top" diff --quiet HEAD -- modules 2>/dev/null || rev="$rev.dirty"
else
	rev=$(date -u +%Y%m%d)
fi
version="0.1~git$rev+kamailio$kup-1"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
doc=$root/usr/share/doc/$pkg
install -d "$root/DEBIAN" "$root/usr/lib/$multiarch/kamailio/modules" \
	"$doc/examples" "$root/usr/share/kamailio/blf/sqlite" \
	"$root/usr/share/kamailio/blf/postgres"
install -m 0644 "$so" "$root/usr/lib/$multiarch/kamailio/modules/blf.so"
strip --strip-unneeded "$root/usr/lib/$multiarch/kamailio/modules/blf.so"
install -m 0644 "$top/README" "$doc/README"
install -m 0644 "$top/modules/blf/README" "$doc/README.blf"
install -m 0644 "$top"/kamcfg-examples/*.cfg "$top"/kamcfg-examples/*.sql \
	"$doc/examples/"
install -m 0644 "$top/modules/blf/sql/sqlite/blf-create.sql" \
	"$root/usr/share/kamailio/blf/sqlite/"
install -m 0644 "$top/modules/blf/sql/postgres/blf-create.sql" \
	"$root/usr/share/kamailio/blf/postgres/"
cat > "$doc/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kamailio-blf

Files: *
Copyright: 2026 kamailio-blf authors
License: GPL-2+
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License as published by the Free
 Software Foundation; either version 2 of the License, or (at your option)
 any later version.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
COPY
printf '%s (%s) unstable; urgency=medium\n\n  * Built for kamailio %s.\n\n -- kamailio-blf authors <blf@localhost>  %s\n' \
	"$pkg" "$version" "$kver" "$(date -R -u)" | gzip -9n > "$doc/changelog.Debian.gz"

# library dependencies of blf.so (libxml2, libcurl, libjansson, libc); the
# kamailio dependency (libsrdb1 up to 5.x) is the exact one below
mkdir -p "$tmp/src/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" \
	> "$tmp/src/debian/control"
shlibs=$(cd "$tmp/src" && dpkg-shlibdeps -O --ignore-missing-info \
	-xkamailio "$root/usr/lib/$multiarch/kamailio/modules/blf.so" 2>/dev/null \
	| sed -n 's/^shlibs:Depends=//p')
size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CTL
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: kamailio-blf authors <blf@localhost>
Installed-Size: $size
Depends: kamailio (= $kver)${shlibs:+, $shlibs}
Section: net
Priority: optional
Description: Busy Lamp Field (RFC 4235 dialog event) module for Kamailio
 The blf module gives SIP phones Busy Lamp Field: it follows calls through
 tm and dialog, answers SUBSCRIBEs for the dialog event package and sends
 the NOTIFYs itself, without the presence, pua and PUBLISH stack.
 .
 Built for kamailio $kver: a module is tied to the ABI of the Kamailio
 it was built against. Example configurations are in the examples
 directory of the package's documentation, the SQL of the optional
 subscription table in /usr/share/kamailio/blf.
CTL
(cd "$root" && find usr -type f -exec md5sum {} + | sort -k2) \
	> "$root/DEBIAN/md5sums"
mkdir -p "$out"
deb=$out/${pkg}_${version}_$arch.deb
rm -f "$out/${pkg}"_*.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
