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

.PHONY: reproduce full-run test venv clean-results bench browser report docs

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

reproduce: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --configfile presets/$(PRESET).yaml \
		$(if $(MIRROR),--config local_mirror=$(abspath $(MIRROR))) $(SNAKEMAKE_ARGS)

# The full preset in the order the study is answered, one Snakemake call per stage so that each
# table and its figure are finished (and can be published) before the next one's jobs start: RQ1; RQ2 with its
# protocol sensitivity; CwC-FF with its ceilings; fine-tuning; RQ3; then RQ4 and the rest. Tables
# joined by + are one stage. Stopped at any point, the same command continues (after `snakemake
# --unlock` if the stop left a lock): finished jobs are kept and a training job resumes from its
# last epoch. It first prints what each stage adds (its jobs not finished yet) and when its tables
# land (python -m tools.cost --stages, by the published cost table and the finished jobs of this
# folder and of the full run's published folders), and refuses a name that is not a table.
FULL_RUN_ORDER := rq1_negative_strategies rq2_transfer+rq2_sensitivity rq_cwc rq2_finetune \
	rq3_root_cause+rq3_over_training
# Each start and exit is logged in full-run.log, from which `python -m tools.publish run` tells
# the wall time so far (a stop from outside, which logs nothing, ends with the folder's last write).
full-run: $(STAMP)
	$(VENV)/bin/python -m tools.cost --stages "$(FULL_RUN_ORDER)" --estimate results/published/full/cost-estimate.md --finished benchmarks \
		--benchmarks results/published/full/benchmarks.tsv
	echo "started $$(date -u '+%F %T')" >> full-run.log
	status=0; for stage in $(FULL_RUN_ORDER) everything; do \
		targets=$$(test $$stage = everything || echo $$stage | tr + '\n' | sed 's|.*|results/tables/&.csv results/figures/&.png|'); \
		$(VENV)/bin/snakemake --cores $(CORES) --rerun-incomplete \
			$(if $(MIRROR),--config local_mirror=$(abspath $(MIRROR))) $(SNAKEMAKE_ARGS) $$targets || { status=1; break; }; \
	done; \
	echo "exited $$status $$(date -u '+%F %T')" >> full-run.log; exit $$status

# The Python linter (ruff check, pyproject.toml), the workflow's format and Snakemake's own
# linter first (seconds), then the test suite.
test: $(STAMP) browser
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/ruff format --check --no-cache .
	$(VENV)/bin/snakefmt --check Snakefile workflow/
	$(VENV)/bin/snakemake --lint --configfile presets/quick.yaml .test/config.yaml
	$(VENV)/bin/python -m pytest

# The report test opens report.html in headless Chromium (Debian package chromium). Installed
# here when missing and we are root; otherwise that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing chromium for the report test (apt-get)"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
				|| echo "chromium could not be installed: the report test will be skipped"; \
		else echo "no chromium and not root: the report test will be skipped"; fi; }

# The HTML report of a finished run (same PRESET/MIRROR as make reproduce): ledger first, then
# every table and figure with its caption.
report: $(STAMP)
	$(VENV)/bin/snakemake --cores 1 --configfile presets/$(PRESET).yaml \
		$(if $(MIRROR),--config local_mirror=$(abspath $(MIRROR))) --report report.html

# Each published run's page (results/published/<run>/README.md) and the README's generated blocks,
# from results/published/ (tools/README.md).
docs: $(STAMP)
	$(VENV)/bin/python -m tools.publish docs
	$(VENV)/bin/python -m tools.readme

# Training-step throughput of every family against a plain FF loop (tools/bench.py), written
# to results/bench/throughput.csv; e.g. make bench BENCH_ARGS="--threads 1 --batch 100".
BENCH_ARGS ?=
bench: $(STAMP)
	$(VENV)/bin/python -m tools.bench $(BENCH_ARGS)

clean-results:
	rm -rf results/pretrain results/transfer results/ceiling results/finetune results/sensitivity \
		results/analysis results/tables results/figures resume logs benchmarks

# ---------------------------------------------------------------------------------------------
# SLURM for real: install SLURM (Debian slurm-wlm + munge, as root) and the executor plugin,
# start a one-node cluster on this machine, run tests/test_slurm.py through it, stop every
# daemon it started (tests/slurm/cluster.sh, also on failure or Ctrl-C). About 3.5 minutes
# on a 2-core machine.
SLURM_PLUGIN ?= snakemake-executor-plugin-slurm==2.6.1

.PHONY: test-slurm slurm-deps gpu-wheels gpu-data gpu-bundle

slurm-deps: $(STAMP)
	@if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then \
		echo "installing slurm-wlm and munge (apt-get, needs root)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; \
	fi
	$(VENV)/bin/python -m pip install --quiet --constraint requirements.txt $(SLURM_PLUGIN)
	$(VENV)/bin/python -m pip check

test-slurm: slurm-deps
	tests/slurm/cluster.sh run -- $(VENV)/bin/python -m pytest -p no:cacheprovider -rs tests/test_slurm.py

# ---------------------------------------------------------------------------------------------
# What gpu/check.sh needs on the bare GPU machine, carried along (both folders are ignored by
# git; name them in the device run's `carry`): Snakemake and the dependencies that machine's
# python3 3.12 lacks, as wheels, and the data mirror. Together about 52 MB of the 64 MiB a
# device call may carry.
GPU_WHEELS ?= gpu/wheels
GPU_DATA ?= gpu/data
GPU_DATA_FROM ?= ../shared/data
GPU_PIP_TARGET := --only-binary=:all: --python-version 3.12 --implementation cp \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
	--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64

gpu-wheels: $(STAMP)
	mkdir -p $(GPU_WHEELS)
	echo '*' >$(GPU_WHEELS)/.gitignore
	rm -f $(GPU_WHEELS)/*.whl
	$(VENV)/bin/python -m pip download --quiet --no-deps $(GPU_PIP_TARGET) -d $(GPU_WHEELS) -r gpu/requirements-device.txt
	$(VENV)/bin/python -m pip wheel --quiet --no-deps -w $(GPU_WHEELS) -r gpu/requirements-device-sdist.txt
	@ls -S $(GPU_WHEELS)/*.whl | head -5 | xargs du -h
	@du -ch $(GPU_WHEELS)/*.whl | tail -1

gpu-data:
	mkdir -p $(GPU_DATA)
	echo '*' >$(GPU_DATA)/.gitignore
	cp -r $(GPU_DATA_FROM)/mnist $(GPU_DATA_FROM)/fashion-mnist $(GPU_DATA)/
	chmod -R u+w $(GPU_DATA)
	@du -sh $(GPU_DATA)

gpu-bundle: gpu-wheels gpu-data
	@du -ch $(GPU_WHEELS) $(GPU_DATA) | tail -1
	@echo "device run: command 'bash gpu/check.sh', carry [\"$(GPU_WHEELS)\", \"$(GPU_DATA)\"], timeout_s 600"
