# Metric Learning for MIR: the course's commands. `make help` lists them.
PYTHON ?= python3
NOTEBOOKS := $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
EXECUTED := $(NOTEBOOKS:notebooks/%=build/executed/%)
UTILS := $(shell find utils -name '*.py')
PYTEST_NOTEBOOKS := --nbval-lax --nbval-current-env --nbval-cell-timeout=900

.PHONY: help install install-browser data test test-units test-seeds test-portable test-decks lab run slides html html-instructor student bench lint stamp clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install:  ## install FluidSynth, torch (CPU, unless one is installed) and this package
	bash tools/install.sh

install-browser:  ## Chromium, for the test that renders the offline site and a deck
	bash tools/install_browser.sh

data:  ## build (or check) the cached course datasets
	$(PYTHON) -m utils.data build

test: data  ## unit tests and every notebook end to end, with a time table per notebook
	$(PYTHON) -m pytest tests notebooks $(PYTEST_NOTEBOOKS)

test-units:  ## unit tests only
	$(PYTHON) -m pytest tests

# Other seeds: every notebook again with SEED = each of SEEDS in its parameters cell. A claim is
# asserted on the distribution over seeds (utils.protocol), so it must hold whatever SEED is set.
SEEDS ?= 1 2

test-seeds: data  ## every notebook again with other seeds (SEEDS="1 2"): no claim may hang on SEED = 0
	rm -rf build/seeds
	$(PYTHON) tools/seeded.py --output-dir build/seeds $(NOTEBOOKS) --seeds $(SEEDS)
	$(PYTHON) -m pytest build/seeds $(PYTEST_NOTEBOOKS)

# Another x86-64 CPU's floating-point: baseline SIMD paths in NumPy, OpenBLAS, MKL, oneDNN, ATen and
# numba, and a data cache built under them. The last bits of every feature and fit then differ.
PORTABLE_ENV := NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" OPENBLAS_CORETYPE=Sandybridge \
	MKL_ENABLE_INSTRUCTIONS=AVX DNNL_MAX_CPU_ISA=AVX ATEN_CPU_CAPABILITY=default NUMBA_CPU_NAME=generic \
	ML4MIR_DATA=$(CURDIR)/build/portable-data

# One pass checks two things: another CPU's rounding and another seed (PORTABLE_SEED).
PORTABLE_SEED ?= 3

test-portable:  ## every notebook again on another CPU's rounding (x86-64) and SEED = PORTABLE_SEED
	$(PORTABLE_ENV) $(PYTHON) -m utils.data build
	rm -rf build/portable-seeds
	$(PYTHON) tools/seeded.py --output-dir build/portable-seeds $(NOTEBOOKS) --seeds $(PORTABLE_SEED)
	$(PORTABLE_ENV) $(PYTHON) -m pytest build/portable-seeds $(PYTEST_NOTEBOOKS)

lab:  ## open JupyterLab on the notebooks
	$(PYTHON) -m jupyter lab notebooks

run: $(EXECUTED)  ## execute every notebook headless into build/executed (only those that changed)

build/executed/%.ipynb: notebooks/%.ipynb $(UTILS) | data
	$(PYTHON) tools/execute.py --output-dir build/executed $<

html: run  ## the students' offline site (solutions folded, closed): build/html/index.html
	$(PYTHON) tools/build_site.py html --output-dir build/html $(EXECUTED)

html-instructor: run  ## the same site with every solution shown: build/instructor/index.html
	$(PYTHON) tools/build_site.py instructor --output-dir build/instructor $(EXECUTED)

slides: run  ## one offline reveal.js deck per lecture, from the executed notebooks: build/slides/index.html
	$(PYTHON) tools/build_site.py slides --output-dir build/slides $(EXECUTED)

test-decks: slides  ## every slide of every lecture deck at 1280x720 and 1920x1080 in headless Chromium: none may overflow
	ML4MIR_DECKS=$(CURDIR)/build/slides $(PYTHON) -m pytest tests/test_decks.py

student:  ## copies without solution cells under build/student
	$(PYTHON) tools/student.py --output-dir build/student $(NOTEBOOKS)

bench: data  ## benchmarks: notebook times, evaluation and losses against the reference libraries
	$(PYTHON) tools/bench.py

lint:  ## ruff on code and notebooks, and the notebook template check
	$(PYTHON) -m ruff check utils tests tools notebooks
	$(PYTHON) tools/stamp.py --check

stamp:  ## stamp the common cells into every notebook and the syllabus into the README
	$(PYTHON) tools/stamp.py

clean:  ## remove build outputs and caches (not the datasets: rm -r data/cache for those)
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
