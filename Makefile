# kamailio-blf — top-level Makefile.
#
#   make deps    install every Debian package needed (as root)
#   make         build modules/blf/blf.so
#   make unit    pure-code unit tests (plain cc, ASan/UBSan, leak-checked),
#                and the layer check's own test (scripts/test_layercheck.sh)
#   make layercheck  the module's file-level call graph from its object files:
#                fails on a loop between files or a call up a layer
#                (scripts/layercheck.py; known edges in layercheck.allow)
#   make fuzz    libFuzzer harnesses of the pure code (tests/fuzz), each for
#                FUZZ_SECONDS (default 20); fails on a crash, leak or UBSan
#                report and prints the reproducer
#   make test    deps + build + layercheck + unit + fuzz (FUZZ_TEST_BUDGET s
#                in all) +
#                integration tests, the latter twice: as configured by
#                default and with notify_direct=0 (CI)
#   make demo    a scripted scene with lamps changing in a real Kamailio
#   make bench   the benchmark against the stock presence stack and the floor
#   make bench-cluster  the same workload on a 3-node DMQ cluster (and a kill)
#   make deb     the Debian package kamailio-blf-module for the installed
#                kamailio (build/deb/); make deb-check installs it, checks and
#                demos it, removes it (part of make test)
#   make test-kamailio6  the integration suite on Kamailio 6.0 (Debian 13's
#                source, built once into build/kamailio6; part of make test,
#                with test-kamailio6-tm: the same with notify_direct=0)
#   make soak    (not in CI) an hour (SOAK_SECONDS) of calls, subscriptions,
#                HTTP flaps and a node restart in a two-node cluster; fails
#                when shm or pkg grows (tests/soak.py)
#
# KAMAILIO_SRC may point at your own configured Kamailio tree; by default the
# Debian source package of the installed kamailio is fetched into build/.

KAMAILIO_SRC ?= $(CURDIR)/build/kamailio-src
KAMAILIO_MODULES ?= /usr/lib/x86_64-linux-gnu/kamailio/modules
# Debian's interpreter: its python3-pytest/python3-lxml are what deps installs
PYTHON ?= /usr/bin/python3
PYTEST ?= $(PYTHON) -m pytest
PYTEST_ARGS ?=
# fuzzing: seconds per harness for `make fuzz`; `make test` splits
# FUZZ_TEST_BUDGET seconds over all harnesses (at most FUZZ_SECONDS each)
FUZZ_SECONDS ?= 20
FUZZ_TEST_BUDGET ?= 100
# soak: total length and sampling interval (empty: SOAK_SECONDS/60 within
# 5..15), seconds
SOAK_SECONDS ?= 3600
SOAK_SAMPLE ?=

MODULE := modules/blf/blf.so

.PHONY: all deps kamsrc module layercheck doccheck unit fuzz integration integration-tm integration-both test soak demo bench bench-scale bench-cluster doc clean distclean

all: module

deps:
	sh scripts/deps.sh

$(KAMAILIO_SRC)/src/config.mak:
	sh scripts/kamsrc.sh $(KAMAILIO_SRC)

kamsrc: $(KAMAILIO_SRC)/src/config.mak

module: $(KAMAILIO_SRC)/src/config.mak
	$(MAKE) -C modules/blf KAMAILIO_SRC=$(KAMAILIO_SRC) quiet=silent

unit:
	$(MAKE) -C tests/unit run
	PYTHON=$(PYTHON) sh scripts/test_layercheck.sh

# who calls whom between the module's files, from nm of its objects
layercheck: module
	$(PYTHON) scripts/layercheck.py --allow scripts/layercheck.allow modules/blf

# the DocBook parses and names every parameter, RPC and statistic, as the
# README does (xmllint only; `make doc' renders it)
doccheck: $(KAMAILIO_SRC)/src/config.mak
	KAMAILIO_SRC=$(KAMAILIO_SRC) sh scripts/doccheck.sh

# (the differential harness compiles the core's parser from KAMAILIO_SRC;
# without its sources it is skipped with a message)
fuzz:
	$(MAKE) -C tests/fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS) \
		KAMAILIO_SRC=$(KAMAILIO_SRC)

integration: module
	BLF_MODULE=$(CURDIR)/$(MODULE) KAMAILIO_MODULES=$(KAMAILIO_MODULES) \
		$(PYTEST) -q tests/integration $(PYTEST_ARGS)

# the same suite again with every NOTIFY through tm (notify_direct=0)
integration-tm: module
	BLF_MODULE=$(CURDIR)/$(MODULE) KAMAILIO_MODULES=$(KAMAILIO_MODULES) \
		BLF_TEST_PARAMS=notify_direct=0 \
		$(PYTEST) -q tests/integration $(PYTEST_ARGS)

# both NOTIFY modes side by side: the suite mostly waits (timers, answers,
# restarts; about 10% of a core), so two passes take the time of one
# (-Otarget: each pass's output together, when it ends)
integration-both: module
	$(MAKE) -j2 -Otarget integration integration-tm

test: deps
	$(MAKE) module
	$(MAKE) layercheck
	$(MAKE) doccheck
	$(MAKE) unit
	$(MAKE) fuzz FUZZ_BUDGET=$(FUZZ_TEST_BUDGET)
	$(MAKE) integration-both
	$(MAKE) deb-check
	$(MAKE) test-kamailio6-both

soak: deps
	$(MAKE) module
	BLF_MODULE=$(CURDIR)/$(MODULE) KAMAILIO_MODULES=$(KAMAILIO_MODULES) \
		SOAK_SECONDS=$(SOAK_SECONDS) SOAK_SAMPLE=$(SOAK_SAMPLE) \
		$(PYTHON) tests/soak.py

demo: deps
	$(MAKE) module
	BLF_MODULE=$(CURDIR)/$(MODULE) $(PYTHON) tests/demo.py

bench: deps
	$(MAKE) module
	BLF_MODULE=$(CURDIR)/$(MODULE) $(MAKE) -C bench run

bench-scale: deps
	$(MAKE) module
	BLF_MODULE=$(CURDIR)/$(MODULE) $(MAKE) -C bench bench-scale

bench-cluster: deps
	$(MAKE) module
	BLF_MODULE=$(CURDIR)/$(MODULE) $(MAKE) -C bench bench-cluster

doc:
	$(MAKE) -C modules/blf/doc

clean:
	-$(MAKE) -C modules/blf KAMAILIO_SRC=$(KAMAILIO_SRC) clean quiet=silent
	-$(MAKE) -C tests/unit clean
	-$(MAKE) -C tests/fuzz clean

distclean: clean
	rm -rf build

# --- Kamailio 6.0 -----------------------------------------------------------
# Debian 13's kamailio source package (6.0), built once with the modules the
# tests load into a private prefix (nothing is installed on the system);
# blf.so is built against it in build/blf6 (modules/blf keeps the 5.6 build).
KAMAILIO6_SRC ?= $(CURDIR)/build/kamailio6-src
KAMAILIO6 ?= $(CURDIR)/build/kamailio6
MODULE6 := build/blf6/blf.so
KAMAILIO6_ENV = KAMAILIO=$(KAMAILIO6)/sbin/kamailio \
	KAMCMD=$(KAMAILIO6)/sbin/kamcmd \
	KAMAILIO_MODULES=$(KAMAILIO6)/lib/kamailio/modules \
	KAMAILIO_SHARE=$(KAMAILIO6)/share/kamailio \
	BLF_MODULE=$(CURDIR)/$(MODULE6)

.PHONY: kamailio6 module6 test-kamailio6 test-kamailio6-tm \
	test-kamailio6-both integration6 integration6-tm
kamailio6:
	sh scripts/kamailio6.sh $(KAMAILIO6_SRC) $(KAMAILIO6)

module6: kamailio6
	sh scripts/module6.sh $(KAMAILIO6_SRC) build/blf6

# the suite with the default notify_direct=1, then with notify_direct=0
test-kamailio6: deps
	$(MAKE) module6
	$(MAKE) integration6

test-kamailio6-tm: deps
	$(MAKE) module6
	$(MAKE) integration6-tm

# both modes side by side, as integration-both
test-kamailio6-both: deps
	$(MAKE) module6
	$(MAKE) -j2 -Otarget integration6 integration6-tm

# the passes alone, on a module6 already built
integration6:
	$(KAMAILIO6_ENV) $(PYTEST) -q tests/integration $(PYTEST_ARGS)

integration6-tm:
	$(KAMAILIO6_ENV) BLF_TEST_PARAMS=notify_direct=0 \
		$(PYTEST) -q tests/integration $(PYTEST_ARGS)

# --- Debian package ---------------------------------------------------------
.PHONY: deb deb-check
deb: module
	sh scripts/mkdeb.sh $(MODULE) build/deb

deb-check: deb
	PYTHON=$(PYTHON) sh scripts/deb-check.sh build/deb/kamailio-blf-module_*.deb
