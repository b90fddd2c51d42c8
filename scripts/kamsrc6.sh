#!/bin/sh
# Fetches Debian 13 (trixie)'s kamailio source package (Kamailio 6.0) into
# $1 for scripts/kamailio6.sh: the module is built and the integration suite
# run against Kamailio 6.0 as well as against the installed 5.6.
#
# Only a deb-src entry for trixie is added (next to the existing Debian
# lines, same mirror): binaries keep coming from bookworm, apt's pinning is
# not touched. apt-get resolves the package and its files from the signed
# Sources index; each file is checked against that index's SHA256. (The
# mirror serves no upstream .asc signatures, which `apt-get source' and
# `dpkg-source -x' insist on, so the two tarballs are unpacked and
# debian/patches applied here the way dpkg-source would.)
# Idempotent: nothing is done when $1/.blf-fetched exists.
# Usage: kamsrc6.sh DEST_DIR
set -eu
dest=$1
[ -f "$dest/.blf-fetched" ] && exit 0
if [ -e "$dest" ]; then
	echo "kamsrc6: $dest exists but was not fetched here; remove it" >&2
	exit 1
fi

srcs=/etc/apt/sources.list.d/kamailio-blf-src-trixie.sources
if ! apt-get indextargets --format '$(CREATED_BY) $(RELEASE)' 2>/dev/null \
		| grep -q '^Sources trixie$'; then
	if [ "$(id -u)" != 0 ]; then
		echo "kamsrc6: no deb-src entry for trixie; run as root" >&2
		exit 1
	fi
	echo "kamsrc6: adding a trixie deb-src entry in $srcs"
	cat > "$srcs" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -q
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "kamsrc6: fetching trixie's kamailio source package"
apt-get source -q --print-uris kamailio/trixie 2>/dev/null | grep "^'" \
	> "$tmp/uris"
[ -s "$tmp/uris" ] || { echo "kamsrc6: no kamailio in trixie's Sources" >&2;
	exit 1; }
while read -r uri name _size sum; do
	case $name in *.asc) continue ;; esac
	uri=${uri#\'}
	uri=${uri%\'}
	curl -sSf --retry 3 -o "$tmp/$name" "$uri"
	echo "${sum#SHA256:}  $tmp/$name" | sha256sum -c --quiet
done < "$tmp/uris"
mkdir "$tmp/x"
tar xzf "$tmp"/kamailio_*.orig.tar.gz -C "$tmp/x"
top=$(ls -d "$tmp"/x/kamailio-*)
tar xJf "$tmp"/kamailio_*.debian.tar.xz -C "$top"
grep -v '^#' "$top/debian/patches/series" | while read -r p; do
	[ -n "$p" ] && patch -d "$top" -p1 -s < "$top/debian/patches/$p"
done
mkdir -p "$(dirname "$dest")"
mv "$top" "$dest"
touch "$dest/.blf-fetched"
echo "kamsrc6: $(sed -n 's/^kamailio (\([^)]*\)).*/\1/p;q' \
	"$dest/debian/changelog") in $dest"
