#!/bin/sh
# Fetches the Debian source package of the installed Kamailio into $1 and
# configures it with Debian's own build flags, so that a module built there
# carries the same compile flags as the installed binary (Kamailio refuses
# modules whose flags differ).
# Usage: kamsrc.sh DEST_DIR      (DEST_DIR ends up holding src/config.mak)
set -eu
dest=$1
[ -f "$dest/src/config.mak" ] && exit 0
# Never touch a tree we did not fetch: a user's own KAMAILIO_SRC must be
# configured by its owner (make cfg), not replaced.
if [ -e "$dest" ] && [ ! -f "$dest/.blf-fetched" ]; then
	echo "kamsrc: $dest exists but is not configured (no src/config.mak)." >&2
	echo "kamsrc: run 'make cfg' there with your build flags, or remove it." >&2
	exit 1
fi

ver=$(dpkg-query -W -f='${Version}' kamailio 2>/dev/null || true)
if [ -z "$ver" ]; then
	echo "kamsrc: kamailio is not installed (run 'make deps')" >&2
	exit 1
fi

srcs=/etc/apt/sources.list.d/kamailio-blf-src.sources
if ! apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -q Sources; then
	if [ "$(id -u)" != 0 ]; then
		echo "kamsrc: no deb-src entries; run as root or set KAMAILIO_SRC" >&2
		exit 1
	fi
	echo "kamsrc: enabling deb-src in $srcs"
	cat > "$srcs" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -q
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "kamsrc: fetching the source of kamailio $ver"
(cd "$tmp" && apt-get source -q --download-only "kamailio=$ver" >/dev/null \
	&& dpkg-source -x kamailio_*.dsc src >/dev/null)
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$tmp/src" "$dest"
touch "$dest/.blf-fetched"

# Same configuration as debian/rules (override_dh_auto_configure).
cppflags=$(dpkg-buildflags --get CPPFLAGS)
cflags=$(dpkg-buildflags --get CFLAGS)
ldflags=$(dpkg-buildflags --get LDFLAGS)
make -C "$dest" cfg quiet=silent prefix=/usr cfg_target=/etc/kamailio/ \
	FLAVOUR=kamailio \
	CC_EXTRA_OPTS="$cppflags $cflags -DVERSION_NODATE" \
	LD_EXTRA_OPTS="$ldflags" group_include="kstandard" >/dev/null
echo "kamsrc: configured $dest"
