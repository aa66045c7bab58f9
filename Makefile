# rekognition-guard — the two commands: `make demo` and `make test`.
# Everything a fresh machine needs is installed here (Python tools with pip).

PYTHON ?= python3
CARGO ?= cargo
BIN := target/debug/rekognition-guard
# The demo's binary is built with the test build's dependency features (Cargo.toml, feature
# test-build), so `make demo` and `make test` compile the AWS SDK once between them.
CARGO_FEATURES ?= --features test-build
EVENT ?= events/create-bucket-console.json
# Python modules the tests and the demo import; `deps` installs them when one is missing.
PY_MODULES := moto.server boto3 pytest cfnlint samtranslator yaml checkov jsonschema

.PHONY: all deps browser lint test test-rust test-docs docs iam checkov demo demo-project demo-org demo-drift demo-safety invoke check-event fuzz clean

all: test

# Python modules (pip, into $(PYTHON)'s environment): all the demos need.
deps:
	@$(PYTHON) -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]" $(PY_MODULES) 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt

# Chromium: tests/plan_html.rs opens the plan page in it (Debian's package, apt-get as root;
# the README's first screen lists what `make test` installs and changes on the host).
browser:
	@command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets $(CARGO_FEATURES) --quiet -- -D warnings

# The Rust suite starts its own moto_server on a free 127.0.0.1 port and stops it.
test-rust: deps browser
	MOTO_PYTHON=$(PYTHON) $(CARGO) test $(CARGO_FEATURES)

test: deps lint test-rust test-deploy test-docs checkov iam test-sam-local

# The book stays true (issue 27), read as Markdown (no mdBook needed): every page in SUMMARY.md,
# every relative link and #anchor resolves, every `make` target the docs name exists, and the
# commands of docs/src/getting-started.md run against the emulator with the built binary.
# Variables: src/config/docs.rs, run here again by name (and by test-rust, in `cargo test`).
REKOGNITION_GUARD_BIN ?= $(abspath $(BIN))
test-docs: deps $(BIN)
	MOTO_PYTHON=$(PYTHON) $(CARGO) test $(CARGO_FEATURES) --quiet --lib config::docs
	REKOGNITION_GUARD_BIN=$(REKOGNITION_GUARD_BIN) $(PYTHON) -m pytest -q tests/docs

# The book (docs/), rendered offline by mdBook into target/book. Needs `mdbook` (not `make test`):
# installed from crates.io the first time (`cargo install mdbook --locked`).
MDBOOK ?= mdbook
docs:
	@command -v $(MDBOOK) >/dev/null || $(CARGO) install mdbook --locked
	$(MDBOOK) build docs --dest-dir $(CURDIR)/target/book
	@echo "the book: target/book/index.html"

# Least privilege, proven (issue 25): an end-to-end scenario through tests/fault_proxy.py records
# every request and the role that signed it; each is evaluated against the templates' policies;
# unused grants need a reason; removing any used action must fail the check. See tests/iam/check.py.
iam: deps $(BIN)
	$(PYTHON) tests/iam/check.py --binary $(BIN) --save target/iam/recording.json

# Security teams' template linter: zero failed checks; each skip carries a reason in the
# resource's Metadata (checkov.skip[].comment). --skip-download: offline.
checkov: deps
	$(PYTHON) -m checkov.main --framework cloudformation --compact --quiet --skip-download \
	  -f template.yaml -f deploy/member-role.yaml -f deploy/forwarder.yaml

# Every source file, however deep (src/sink/securityhub/*.rs is three levels down).
# The first build compiles the AWS SDK (about 280 crates): measured 16 and 29 minutes on 2 cores
# shared with other builds (issue 28); `make test` then reuses it. Later builds take a minute or two.
$(BIN): $(shell find src -name "*.rs") Cargo.toml build.rs
	@test -e $(BIN) || echo "make: building $(BIN) with the AWS SDK (debug, the test build's features): the first build takes 15 to 30 minutes on 2 cores, and make test reuses it"
	$(CARGO) build $(CARGO_FEATURES)

# Starts moto, creates a console bucket the way the console leaves it, runs the function
# on the matching event, shows the bucket before and after, the alert, and a rerun.
demo: deps $(BIN)
	$(PYTHON) scripts/local.py demo --binary $(BIN)

# The Custom Labels training case: CreateProjectVersion's output bucket, key and training data.
demo-project: deps $(BIN)
	$(PYTHON) scripts/local.py demo-project --binary $(BIN)

# Organization scope: member accounts in the emulator, a forwarded SQS batch fixed through member
# roles (a forged record refused), each member bucket read back, then `scan --org`.
demo-org: deps $(BIN)
	$(PYTHON) scripts/org_demo.py --binary $(BIN)
# Drift: another principal removes the TLS-only statement of a guarded bucket; the function
# restores it seconds later and the alert names who did it; a pipeline that keeps doing it
# is stopped after three restorations in an hour.
demo-drift: deps $(BIN)
	$(PYTHON) scripts/local.py demo-drift --binary $(BIN)

# Do no harm: a bucket another account reads is held (alert naming the reader, nothing
# written), then remediated once a key whose policy grants that account is configured.
demo-safety: deps $(BIN)
	$(PYTHON) scripts/local.py demo-safety --binary $(BIN)

# Runs the binary on one event against the local emulator (started if MOTO_ENDPOINT is unset),
# after creating the buckets and keys the event names. Exit 3 is the report's verdict
# ("non-compliance remains (exit 3)", printed by the script), not a failure of the target;
# 1 (a control failed) and 2 (bad input) are.
invoke: check-event deps $(BIN)
	@echo "$(PYTHON) scripts/local.py invoke --binary $(BIN) --event $(EVENT)"
	@$(PYTHON) scripts/local.py invoke --binary $(BIN) --event $(EVENT) || test $$? -eq 3

# A mistyped EVENT stops here, in one line, before anything is built or started.
check-event:
	$(if $(wildcard $(EVENT)),@:,$(error no event file $(EVENT): the samples are in events/))

# Fuzzes event intake for FUZZ_SECONDS (default 120); failures land in tests/fuzz-regressions.txt.
FUZZ_SECONDS ?= 120
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release --test fuzz_events -- --ignored --nocapture fuzz_for_a_while

clean:
	$(CARGO) clean

-include deploy.mk
-include bench.mk
-include sam.mk
-include release.mk
