#!/bin/sh
# Builds Kamailio 6.0 (core, kamcmd and the modules the tests, the bench and
# kamcfg-examples load) from Debian 13's source package into a private
# prefix, for `make test-kamailio6'. Nothing is installed on the system.
#
# Usage: kamailio6.sh SRC_DIR PREFIX
#   SRC_DIR  where scripts/kamsrc6.sh unpacks the source (build/kamailio6-src)
#   PREFIX   install prefix (build/kamailio6): sbin/kamailio, sbin/kamcmd,
#            lib/kamailio/modules/*.so
# Cached: when PREFIX/.blf-built names the same source version and module
# list, nothing is rebuilt.
#
# Flags: Kamailio's own defaults (not Debian's hardening set): blf.so is
# built against this tree's config.mak, so its flags match this binary's.
set -eu
src=$1
prefix=$2
here=$(cd "$(dirname "$0")" && pwd)

# integration suite (kamailio.cfg.tpl, cluster.py, dbutil.py, httputil.py),
# kamcfg-examples (tls: the cluster's DMQ over TLS option) and bench
# (db_text: stock.cfg); xhttp_prom for test_metrics.py; sipdump for
# test_notify_tx.py (a module on the core's send path)
MODULES="kex corex tm tmx sl rr pv maxfwd textops siputils usrloc registrar
 dialog ctl jsonrpcs auth auth_db db_sqlite db_postgres db_text presence
 presence_dialoginfo presence_xml pua pua_dialoginfo app_jsdt dmq dmq_usrloc xhttp
 xhttp_prom xlog sanity nathelper htable cfgutils tls sipdump"
MODULES=$(echo $MODULES)

sh "$here/kamsrc6.sh" "$src"
ver=$(sed -n 's/^kamailio (\([^)]*\)).*/\1/p;q' "$src/debian/changelog")
stamp="$ver: $MODULES"
if [ -f "$prefix/.blf-built" ] && [ "$(cat "$prefix/.blf-built")" = "$stamp" ] \
		&& [ -x "$prefix/sbin/kamailio" ]; then
	exit 0
fi

jobs=${KAMAILIO6_JOBS:-$(nproc)}
prefix=$(mkdir -p "$prefix" && cd "$prefix" && pwd)
# every module of the tree but those listed
skip=""
for d in "$src"/src/modules/*/; do
	m=$(basename "$d")
	case " $MODULES " in *" $m "*) ;; *) skip="$skip $m" ;; esac
done
echo "kamailio6: building Kamailio $ver into $prefix ($jobs jobs)"
t0=$(date +%s)
make -C "$src" cfg quiet=silent prefix="$prefix" cfg_target="$prefix/etc/kamailio/" \
	group_include="kstandard" include_modules="$MODULES" \
	exclude_modules="$skip" >/dev/null
make -C "$src" -j"$jobs" quiet=silent all >/dev/null
make -C "$src" -j"$jobs" quiet=silent install >/dev/null
for m in $MODULES; do
	[ -f "$prefix/lib/kamailio/modules/$m.so" ] || {
		echo "kamailio6: $m.so was not built" >&2
		exit 1
	}
done
echo "$stamp" > "$prefix/.blf-built"
echo "kamailio6: built in $(($(date +%s) - t0)) s: $("$prefix/sbin/kamailio" -v | head -1)"
