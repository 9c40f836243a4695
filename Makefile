# lvsha.cluster - one entry point for setting up, demonstrating and testing.
#   make demo   build the lab, deploy into it, show that it serves
#   make demo-storage   the same for the storage pair (DRBD, NFS, heartbeat)
#   make demo-mirror    the same for the mirror pair (rsync pull, heartbeat failover)
#   make test   unit tests (on every ansible-core line claimed), lint, sanity, and the lab scenarios
#   make lab-tun   the tunnelling cluster's scenario in the lab (not in make test)
#   make faults the storage and mirror pairs' fault matrices in the lab (RELIABILITY.md)
#   make docs   docs/model.md from the model's schema
#   make docsite   the documentation site in build/docsite/build/html
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
BIN         := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
COLLECTION  := build/collections/ansible_collections/lvsha/cluster
SANITY_TREE := build/sanity/ansible_collections/lvsha/cluster
LABCTL      := tests/lab/labctl
STAGE       := tests/stage
APT_PACKAGES := qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client python3-venv git \
                drbd-utils mon rsync nftables
# heartbeat and what it loads, unpacked (not installed: its package would start it) for
# render.yml's check of ha.cf (playbooks/files/check_heartbeat.sh).
HEARTBEAT_ROOT := build/heartbeat-root
HEARTBEAT_DEBS := heartbeat cluster-glue libheartbeat2 libpils2 libplumb2 libplumbgpl2 libstonith1 libltdl7
SCENARIOS   := lvs storage mirror nat tun
# The example inventory is the cluster model; the lab's generated one says how to reach it.
LVS_INVENTORY := -i inventories/example-lvs/hosts.yml -i inventories/lab/hosts.yml
STORAGE_INVENTORY := -i inventories/example-storage/hosts.yml -i inventories/lab/hosts.yml
MIRROR_INVENTORY := -i inventories/example-mirror/hosts.yml -i inventories/lab/hosts.yml

.PHONY: help setup docs changelog docs-check docsite demo demo-storage demo-mirror test units units-cores units-core lint sanity lab lab-build lab-tun faults bench-ipvs bench-failover bench-storage bench-mirror bench-transport bench-controller clean

help:
	@sed -n 's/^#   //p' Makefile

setup: $(VENV)/.installed $(COLLECTION) $(HEARTBEAT_ROOT)/.unpacked

$(VENV)/.installed: requirements.txt
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(COLLECTION):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

$(HEARTBEAT_ROOT)/.unpacked: $(VENV)/.installed
	rm -rf $(HEARTBEAT_ROOT) && mkdir -p $(HEARTBEAT_ROOT)/debs
	cd $(HEARTBEAT_ROOT)/debs && { apt-get download -qq $(HEARTBEAT_DEBS) || \
	  { apt-get update -qq && apt-get download -qq $(HEARTBEAT_DEBS); }; }
	for deb in $(HEARTBEAT_ROOT)/debs/*.deb; do dpkg-deb -x $$deb $(HEARTBEAT_ROOT) || exit 1; done
	touch $@

demo: setup
	$(STAGE) lab-build $(LABCTL) build
	$(STAGE) lab-up $(LABCTL) up lvs
	$(STAGE) deploy ansible-playbook $(LVS_INVENTORY) playbooks/lvs.yml
	$(STAGE) show python3 tests/lab/lvslab.py show

demo-storage: setup
	$(STAGE) lab-build $(LABCTL) build
	$(STAGE) lab-up $(LABCTL) up storage
	$(STAGE) deploy ansible-playbook $(STORAGE_INVENTORY) playbooks/storage.yml
	$(STAGE) show python3 tests/lab/storagelab.py show

demo-mirror: setup
	$(STAGE) lab-build $(LABCTL) build
	$(STAGE) lab-up $(LABCTL) up mirror
	$(STAGE) deploy ansible-playbook $(MIRROR_INVENTORY) playbooks/mirror.yml
	$(STAGE) show python3 tests/lab/mirrorlab.py show

test: setup
	$(STAGE) units $(MAKE) --no-print-directory units
	$(STAGE) lint $(MAKE) --no-print-directory lint
	$(STAGE) sanity $(MAKE) --no-print-directory sanity
	$(STAGE) docs $(MAKE) --no-print-directory docs-check docsite
	$(STAGE) units-cores $(MAKE) --no-print-directory units-cores CORE_LINES="$(TEST_CORE_LINES)"
	$(STAGE) lab $(MAKE) --no-print-directory lab

# The unit suite through ansible-test, as the collection's users run it (the collection under
# ansible_collections/; tests/unit/conftest.py runs each test in its worker, not in a fork): a
# copy of the tracked and new files, as for sanity.
# Two workers: the unit run is about 40% shorter on the two cores (220 s against 360 s).
# tests/no_leftovers.py fails the stage on a process or a /tmp entry that the run left behind.
UNITS_TREE  := build/units/ansible_collections/lvsha/cluster

units: setup
	rm -rf $(UNITS_TREE) && mkdir -p $(UNITS_TREE)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(UNITS_TREE)
	mkdir -p $(UNITS_TREE)/build && cp -a $(HEARTBEAT_ROOT) $(UNITS_TREE)/build/
	cd $(UNITS_TREE) && git init -q && git add -A && \
	  python3 $(CURDIR)/tests/no_leftovers.py ansible-test units --local --python 3.11 --num-workers 2 --color no

# On a copy of the tracked and new files in a repository of its own, as a fresh clone has
# them (no build/ from make setup, no ANSIBLE_CONFIG): ansible.cfg must find the collection by
# itself, with nothing installed.
LINT_TREE   := build/lint

lint: setup
	rm -rf $(LINT_TREE) && mkdir -p $(LINT_TREE)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(LINT_TREE)
	cd $(LINT_TREE) && git init -q && git add -A && env -u ANSIBLE_CONFIG ansible-lint --offline --profile production

# The other ansible-core lines that meta/runtime.yml claims (the pinned one is requirements.txt's):
# the whole unit suite, which holds the controller side (validate.yml, render.yml, site.yml's
# plan, the filters, the action and the modules), runs on each in a venv of its own. The lines
# that need Python 3.12 or later run in a Debian 13 root with its Python 3.13 (tests/trixie-root).
CORE_LINES := 2.16.19 2.17.14 2.18.19
CORE_LINES_PY313 := 2.20.10 2.21.5
# make test runs the lowest line and the two newest, with make units' pinned 2.19: the two
# between, past their end of life upstream, would cost CI about 5 minutes that its 90 do not
# hold with the lab. make units-cores runs all five.
TEST_CORE_LINES := 2.16.19

units-cores: setup
	for core in $(CORE_LINES); do $(STAGE) units-core-$$core $(MAKE) --no-print-directory units-core CORE=$$core || exit 1; done
	for core in $(CORE_LINES_PY313); do $(STAGE) units-core-$$core tests/trixie-root $$core || exit 1; done

units-core:
	test -x build/core-$(CORE)/bin/python3 || python3 -m venv build/core-$(CORE)
	build/core-$(CORE)/bin/pip install -q "ansible-core==$(CORE)" -r tests/unit/requirements.txt
	PATH=$(CURDIR)/build/core-$(CORE)/bin:$$PATH pytest -q -n 2 -p no:cacheprovider --basetemp build/core-$(CORE)/tmp tests/unit

# docs/model.md from the model's schema (plugins/plugin_utils/model_schema.yml), and the
# documentation site's model guide from it.
docs: setup
	PYTHONPATH=build/collections python3 -c 'from ansible_collections.lvsha.cluster.plugins.plugin_utils._schema import markdown; print(markdown())' > docs/model.md
	python3 tests/unit/model_rst.py > docs/docsite/rst/model.rst

# CHANGELOG.md from changelogs/ (the fragments of the coming release; the releases).
changelog: setup
	python3 tests/unit/changelog_md.py > CHANGELOG.md

# The changelog's fragments and changelog.yaml, and the collection's documentation (plugins,
# roles, the guides of docs/docsite, every reference) as antsibull-docs checks them.
docs-check: setup
	antsibull-changelog lint
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	python3 tests/docs_lint.py collections/ansible_collections/lvsha/cluster

# The documentation site (antsibull-docs, Sphinx) in build/docsite/build/html, warnings as
# errors. With no network there is no intersphinx inventory: references into the Ansible
# documentation (common_return_values, ...) stay unresolved, so Sphinx's ref.ref warnings are
# not errors here; docs-check validates the collection's own references.
DOCSITE := build/docsite

docsite: setup
	rm -rf $(DOCSITE) && mkdir -m 0755 -p $(DOCSITE)
	antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir $(DOCSITE) lvsha.cluster
	printf '%s\n' 'intersphinx_mapping = {}' "suppress_warnings = ['ref.ref']" >> $(DOCSITE)/conf.py
	$(DOCSITE)/build.sh

# ansible-test wants the collection under ansible_collections/NAMESPACE/NAME and reads the
# file list from git: copy the tracked and new files there, into a repository of their own.
# The pip version ansible-test (of the pinned ansible-core) bootstraps; see get_pip_offline.py.
ANSIBLE_TEST_PIP := 24_2

sanity: setup
	install -D -m 0644 tests/sanity/get_pip_offline.py ~/.ansible/test/cache/get_pip_$(ANSIBLE_TEST_PIP).py
	rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(SANITY_TREE)
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  ansible-test sanity --venv --python 3.11 --requirements --color no

lab-build: setup
	for release in $(LAB_RELEASES); do $(LABCTL) build --release $$release || exit 1; done

# The scenarios drive the guests through Mitogen for Ansible: one Python per guest for a whole
# run instead of one per task (the storage pair's converged run 6.6x faster under software
# emulation, BENCHMARKS.md). Every run does, the second runs too: through Ansible's own ssh the
# storage pair's took 684 s, beyond the CI budget (LVSHA_LAB_PLAIN=1 runs it that way).
# Mitogen's first connection to a guest starts its Python over ssh: about 12 s under emulation,
# beyond Ansible's default 10 s connection timeout.
MITOGEN_DIR = $(shell $(BIN)/python3 -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')
LAB_ENV = ANSIBLE_STRATEGY=mitogen_linear ANSIBLE_STRATEGY_PLUGINS=$(MITOGEN_DIR)/plugins/strategy \
          ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_TIMEOUT=60

# Each scenario converges on guests that lack the roles' packages (the image carries them as
# a local repository), so every run also proves the roles' install tasks. The scenarios are
# shared out between the releases, each run once, the two longest on Debian 13 (the current
# stable release): all of them on both would take about 115 minutes of lab from cold boots on
# this machine, beyond CI's 90 with the other stages (BENCHMARKS.md, the lab's time). With the
# tunnelling cluster as well, CI overran its 90 minutes: make test runs four scenarios, and
# make lab-tun the fifth (tun on Debian 13: tunnelling, a firewall-mark service, a sorry server,
# the IPVS timeouts). Every scenario on one release:
#   make lab LAB_RELEASES=bookworm LAB_SCENARIOS_bookworm="lvs storage mirror nat tun"
LAB_RELEASES := bookworm trixie
LAB_SCENARIOS_bookworm = $(filter mirror nat,$(SCENARIOS))
LAB_SCENARIOS_trixie = $(filter lvs storage,$(SCENARIOS))
LAB_RUNS = $(foreach release,$(LAB_RELEASES),$(addprefix $(release):,$(LAB_SCENARIOS_$(release))))

lab: lab-build
	for run in $(LAB_RUNS); do release=$${run%%:*} s=$${run#*:}; \
	  $(STAGE) molecule-$$s-$$release env $(LAB_ENV) LVSHA_LAB_RELEASE=$$release tests/lab/scenario $$s || exit 1; done

lab-tun:
	$(MAKE) --no-print-directory lab LAB_RELEASES=trixie LAB_SCENARIOS_trixie=tun

# The pairs' fault matrices (molecule/storage-faults, molecule/mirror-faults, RELIABILITY.md) on
# Debian 13, each run whatever the other's outcome. Not in make test: CI's lab time is spent;
# molecule/storage and molecule/mirror run a few of the cases there.
#   make faults FAULTS_SCENARIOS=mirror
FAULTS_RELEASE := trixie
FAULTS_SCENARIOS := storage mirror

faults: setup
	$(LABCTL) build --release $(FAULTS_RELEASE)
	rc=0; for s in $(FAULTS_SCENARIOS); do $(STAGE) molecule-$$s-faults-$(FAULTS_RELEASE) \
	  env $(LAB_ENV) LVSHA_LAB_RELEASE=$(FAULTS_RELEASE) tests/lab/scenario $$s-faults || rc=1; done; exit $$rc

clean:
	-$(LABCTL) down
	rm -rf build

# Benchmarks print figures; they are not pass/fail tests (see BENCHMARKS.md).
bench-ipvs: lab-build
	python3 benchmarks/ipvs_reconcile.py $(BENCH_ARGS)

bench-failover:
	python3 benchmarks/lvs_failover.py $(BENCH_ARGS)

bench-storage:
	python3 benchmarks/storage_failover.py $(BENCH_ARGS)

bench-mirror:
	python3 benchmarks/mirror_pair.py $(BENCH_ARGS)

bench-transport:
	env $(LAB_ENV) python3 benchmarks/lab_transport.py $(BENCH_ARGS)

bench-controller: setup
	python3 benchmarks/controller_scale.py $(BENCH_ARGS)
