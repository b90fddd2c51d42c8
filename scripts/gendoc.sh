#!/bin/sh
# Generates modules/blf/README (plain text, as Kamailio modules ship it) from
# the DocBook sources in modules/blf/doc/, with Kamailio's own docbook tool
# chain: xsltproc + its readme.xsl, then lynx -dump.
#
# The sources refer to Kamailio's entities as ../../../../doc/docbook/, the
# layout of a module inside a Kamailio tree, so the build runs in a
# temporary tree of that shape: src/modules/blf/doc/ holding copies of the
# sources, doc/ pointing at the doc/ of the Kamailio source tree that
# `make' fetched (or KAMAILIO_SRC).
#
# Usage: sh scripts/gendoc.sh      (needs xsltproc, docbook-xsl, docbook-xml,
#                                   lynx; run once, commit the README)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=${KAMAILIO_SRC:-$top/build/kamailio-src}
doc=$top/modules/blf/doc

if [ ! -f "$src/doc/docbook/Makefile.module" ]; then
	echo "gendoc: no Kamailio docbook tree in $src/doc (run 'make' first" \
		"or set KAMAILIO_SRC)" >&2
	exit 1
fi
for tool in xsltproc xmllint lynx; do
	command -v $tool >/dev/null || {
		echo "gendoc: $tool missing:" \
			"apt-get install xsltproc docbook-xsl docbook-xml lynx" >&2
		exit 1
	}
done
[ -d /usr/share/xml/docbook/stylesheet/docbook-xsl ] || {
	echo "gendoc: docbook-xsl missing:" \
		"apt-get install xsltproc docbook-xsl docbook-xml lynx" >&2
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/modules/blf/doc"
ln -s "$src/doc" "$tmp/doc"
cp "$doc"/*.xml "$doc/Makefile" "$tmp/src/modules/blf/doc/"
# Kamailio's readme rule pipes xsltproc into lynx, so a broken source would
# still give a (truncated) README: check that it is well-formed first.
# --nonet: everything resolves through the system XML catalog, no network.
(cd "$tmp/src/modules/blf/doc" &&
	xmllint --nonet --loaddtd --xinclude --noout blf.xml)
make -s -C "$tmp/src/modules/blf/doc" readme xsltproc_flags=--nonet
# lynx pads some lines with blanks; Kamailio's READMEs do not keep them
sed 's/[ \t]*$//' "$tmp/src/modules/blf/README" > "$top/modules/blf/README"
echo "gendoc: wrote modules/blf/README"
