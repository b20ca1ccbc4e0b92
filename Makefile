# Set-up is part of each target: a missing virtual environment is created and filled first.
#   make reproduce                                   full preset, official mirrors
#   make reproduce PRESET=quick MIRROR=../shared/data
#   make test
PYTHON ?= python3
VENV ?= .venv
PRESET ?= full
MIRROR ?=
CORES ?= all
SNAKEMAKE_ARGS ?=

STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

.PHONY: reproduce test venv clean-results

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

reproduce: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --configfile presets/$(PRESET).yaml \
		$(if $(MIRROR),--config local_mirror=$(abspath $(MIRROR))) $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest

clean-results:
	rm -rf results/pretrain results/transfer results/tables logs benchmarks
