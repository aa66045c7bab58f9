# Benchmarks (issue 8); the Makefile includes this file.
#
#   make bench                  release build, then rekognition-guard vs Cloud Custodian vs a boto3
#                               script vs the emulator's floor, on one local moto_server; prints the
#                               table and rewrites README.md between the bench markers (~15-25 min)
#   BENCH_QUICK=1 make bench    the 100-bucket sweep only (a few minutes)
#   BENCH_TIMEOUT=900           seconds one tool run may take before it is reported as a timeout

PYTHON ?= python3
CARGO ?= cargo
# Python modules the benchmark imports; installed from PyPI when one is missing.
BENCH_PY_MODULES := moto.server boto3 c7n

.PHONY: bench bench-deps

bench-deps:
	@$(PYTHON) -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]" $(BENCH_PY_MODULES) 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' boto3 c7n

bench: bench-deps
	$(CARGO) build --release --quiet
	$(PYTHON) bench/run.py
