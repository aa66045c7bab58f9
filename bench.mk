# Benchmarks (issue 8); the Makefile includes this file.
#
#   make bench                  release build, then rekognition-guard vs Cloud Custodian vs a plain
#                               boto3 script vs the emulator's floor, on one local moto_server; prints
#                               the tables and rewrites docs/src/benchmarks.md between the bench markers (~8 min on 2 cores)
#   BENCH_QUICK=1 make bench    the 100-bucket sweep only, a 4-account organization, latency tables at
#                               100 buckets (a few minutes); prints, leaves docs/src/benchmarks.md alone
#   BENCH_TIMEOUT=900           seconds one tool run may take before it is reported as a timeout
#   BENCH_LATENCY_MS=25         the "AWS-like latency" pass: every request a round trip of this
#                               long through bench/latency_proxy.py (0: skip the pass)
#   BENCH_JITTER_MS=0           plus a uniform 0..this per request
#   BENCH_ARGS='--only org'     one part alone: org (issue 12) or latency (issue 16: latency tables,
#                               critical path, cold start, cost); prints, leaves docs/src/benchmarks.md alone
#
#   bench/list_buckets.py       (run by make bench) a sweep's requests both ways: ListBuckets with
#                               BucketRegion (AWS; the latency proxy's --bucket-region) and the
#                               GetBucketLocation-per-bucket fallback (moto as it is)
#
# Never part of `make test`: timings are measured here, never asserted in tests.

PYTHON ?= python3
CARGO ?= cargo
# Python modules the benchmark imports; installed from PyPI when one is missing.
BENCH_PY_MODULES := moto.server boto3 c7n c7n_org
BENCH_ARGS ?=

.PHONY: bench bench-deps

bench-deps:
	@$(PYTHON) -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]" $(BENCH_PY_MODULES) 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' boto3 c7n c7n-org
	@test -x /usr/bin/time || { apt-get update -qq && apt-get install -y -qq time; }

bench: bench-deps
	$(CARGO) build --release --quiet
	$(PYTHON) bench/run.py $(BENCH_ARGS)
	BIN=target/release/rekognition-guard $(PYTHON) bench/list_buckets.py
