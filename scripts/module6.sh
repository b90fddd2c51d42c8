#!/bin/sh
# Builds blf.so against the Kamailio 6.0 tree of scripts/kamailio6.sh, in an
# object directory of its own (the 5.6 build in modules/blf is left alone).
# Sources are copied with their times kept, so make rebuilds what changed.
# Usage: module6.sh KAMAILIO6_SRC OBJDIR     (OBJDIR/blf.so is the result)
set -eu
src=$(cd "$1" && pwd)
obj=$2
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$obj"
# a source removed from modules/blf must not linger in the object directory
for f in "$obj"/*.c "$obj"/*.h; do
	[ -e "$f" ] || continue
	[ -e "$top/modules/blf/$(basename "$f")" ] || rm -f "$f" "${f%.*}.o" "${f%.*}.d"
done
cp -p "$top"/modules/blf/*.c "$top"/modules/blf/*.h "$top"/modules/blf/Makefile "$obj/"
make -C "$obj" KAMAILIO_SRC="$src" quiet=silent
