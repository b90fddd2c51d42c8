#!/bin/sh
# Installs every Debian package that building, testing, demoing and
# benchmarking kamailio-blf needs (scripts/kamsrc.sh then fetches the
# Kamailio source tree of the installed binary). Idempotent: nothing is done
# when every package is there. clang and libclang-rt-14-dev (the libFuzzer,
# ASan and UBSan runtimes) build the harnesses of `make fuzz`; the runtime
# is named because packages are installed without recommends.
set -eu

PKGS="kamailio kamailio-presence-modules kamailio-utils-modules
 kamailio-sqlite-modules kamailio-extra-modules kamailio-json-modules
 kamailio-postgres-modules kamailio-tls-modules openssl build-essential dpkg-dev bison flex pkg-config
 libxml2-dev libxml2-utils libcurl4-openssl-dev libjansson-dev
 sip-tester python3 python3-pytest python3-lxml sqlite3 postgresql
 clang libclang-rt-14-dev baresip gdb"
# (gdb: test_shutdown plants blf's locks as a killed child leaves them)
# (xhttp.so and xhttp_prom.so, for /metrics, are in the kamailio package)
# Kamailio 6.0 built from Debian 13's source (scripts/kamailio6.sh): the
# libraries of its db_sqlite, db_postgres and tls, curl and patch for the
# fetch
PKGS="$PKGS libsqlite3-dev libpq-dev libssl-dev curl patch"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
		|| missing="$missing $p"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages:$missing (run as root to install)" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
# postgresql's package starts a cluster service; tests start their own server.
exit 0
