# kamailio-blf — top-level Makefile.
#
#   make deps    install every Debian package needed (as root)
#   make         build modules/blf/blf.so
#   make unit    pure-code unit tests (plain cc, ASan/UBSan, leak-checked)
#   make test    deps + build + unit + integration tests, the latter twice:
#                as configured by default and with notify_direct=0 (CI)
#   make demo    a scripted scene with lamps changing in a real Kamailio
#   make bench   the benchmark against the stock presence stack and the floor
#   make bench-cluster  the same workload on a 3-node DMQ cluster (and a kill)
#
# KAMAILIO_SRC may point at your own configured Kamailio tree; by default the
# Debian source package of the installed kamailio is fetched into build/.

KAMAILIO_SRC ?= $(CURDIR)/build/kamailio-src
KAMAILIO_MODULES ?= /usr/lib/x86_64-linux-gnu/kamailio/modules
# Debian's interpreter: its python3-pytest/python3-lxml are what deps installs
PYTHON ?= /usr/bin/python3
PYTEST ?= $(PYTHON) -m pytest
PYTEST_ARGS ?=

MODULE := modules/blf/blf.so

.PHONY: all deps kamsrc module unit integration integration-tm test demo bench bench-scale bench-cluster doc clean distclean

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

integration: module
	BLF_MODULE=$(CURDIR)/$(MODULE) KAMAILIO_MODULES=$(KAMAILIO_MODULES) \
		$(PYTEST) -q tests/integration $(PYTEST_ARGS)

# the same suite again with every NOTIFY through tm (notify_direct=0)
integration-tm: module
	BLF_MODULE=$(CURDIR)/$(MODULE) KAMAILIO_MODULES=$(KAMAILIO_MODULES) \
		BLF_TEST_PARAMS=notify_direct=0 \
		$(PYTEST) -q tests/integration $(PYTEST_ARGS)

test: deps
	$(MAKE) module
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) integration-tm

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

distclean: clean
	rm -rf build
