# Deployment targets; the Makefile includes this file. See docs/src/deployment.md.
#
#   make build-deps   cargo-lambda (PyPI, brings ziglang for the cross link) and the arm64 Rust target
#   make build        the Lambda artifact for arm64: target/lambda/rekognition-guard/bootstrap.zip
#   make validate     cfn-lint + SAM translation of template.yaml, offline
#   make test-deploy  tests/deploy (lint, translation, IAM scope, EventBridge patterns on moto, the
#                     benchmark's latency proxy)

PYTHON ?= python3
CARGO_LAMBDA ?= cargo lambda
CFN_LINT ?= cfn-lint
LAMBDA_BIN ?= rekognition-guard
LAMBDA_RUST_TARGET ?= aarch64-unknown-linux-gnu
SAM_TEMPLATE ?= template.yaml

.PHONY: build build-deps validate test-deploy

build-deps:
	$(PYTHON) -m pip install cargo-lambda
	rustup target add $(LAMBDA_RUST_TARGET)

# The same cargo-lambda invocation `sam build` makes (plus a zip), so either reuses the other's
# compiled artifacts in target/.
build:
	@$(CARGO_LAMBDA) --version >/dev/null 2>&1 || { \
	  echo "deploy.mk: '$(CARGO_LAMBDA)' not found; run 'make build-deps' (pip install cargo-lambda)" >&2; exit 2; }
	$(CARGO_LAMBDA) build --release --arm64 --bin $(LAMBDA_BIN) --output-format zip
	@ls -l target/lambda/$(LAMBDA_BIN)/bootstrap.zip

validate:
	$(CFN_LINT) -- $(SAM_TEMPLATE)
	$(PYTHON) tests/deploy/cfn.py $(SAM_TEMPLATE)

test-deploy: sbom-deps
	$(PYTHON) -m pytest -q tests/deploy
