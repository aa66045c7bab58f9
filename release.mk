# Releases (issue 28); the Makefile includes this file. See docs/src/deployment.md, "Deploying a release".
#
#   make release-deps   cargo-lambda (PyPI, with zig for the cross link), the aarch64 Rust target,
#                       cargo-cyclonedx (crates.io, compiled once: a few minutes)
#   make release        dist/: the Lambda artifact for arm64 and x86_64 (cargo lambda build --release,
#                       fat LTO: 10-20 minutes per architecture on 2 cores), a packaged template per
#                       architecture, a CycloneDX SBOM per binary, SHA256SUMS; then release-check
#   make release-check  verifies dist/: checksums match, each SBOM lists the AWS SDK crates at
#                       Cargo.lock's versions and no test-only crate, each zip holds an executable
#                       bootstrap for its architecture, each template deploys its zip
#   RELEASE_ARCHES      the architectures to build (default: arm64 x86_64)

PYTHON ?= python3
RELEASE_ARCHES ?= arm64 x86_64

.PHONY: release release-deps release-check sbom-deps

# The SBOM tool alone: the suite's packaging test (tests/deploy/test_release.py) runs it.
sbom-deps:
	@command -v cargo-cyclonedx >/dev/null || cargo install --locked --quiet cargo-cyclonedx

release-deps: sbom-deps
	@cargo lambda --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check cargo-lambda
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

release: release-deps
	$(PYTHON) scripts/release.py build $(foreach a,$(RELEASE_ARCHES),--arch $(a))

release-check:
	$(PYTHON) scripts/release.py check
