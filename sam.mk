# SAM local (issue 17); the Makefile includes this file. See docs/src/deployment.md, "Running a sample event".
#
#   make sam-deps                    podman, runc, debootstrap, iptables (apt-get) unless a Docker daemon
#                                    answers; aws-sam-cli in a virtual environment under SAM_LOCAL_HOME
#   make sam-local EVENT=events/...  one sample through `sam local invoke` against moto: SAM's output and
#                                    every bucket the event names, before -> after
#   make test-sam-local              every sample in events/ through `sam local invoke`, compared with
#                                    `rekognition-guard invoke` on the same event (part of `make test`)
#   SAM_LOCAL=skip                   skips test-sam-local, and says so
#   SAM_LOCAL_HOME                   where the venv, podman's storage and the stand-in image are kept
#                                    (default ~/.cache/rekognition-guard/sam-local)

PYTHON ?= python3

.PHONY: sam-deps sam-local test-sam-local

sam-deps:
	@$(PYTHON) scripts/sam_local.py deps

# Exit 3 (non-compliance remains) is the report's verdict, not a failure: as `make invoke`.
sam-local: check-event deps sam-deps $(BIN)
	@echo "$(PYTHON) scripts/sam_local.py invoke --binary $(BIN) --event $(EVENT)"
	@$(PYTHON) scripts/sam_local.py invoke --binary $(BIN) --event $(EVENT) || test $$? -eq 3

ifeq ($(SAM_LOCAL),skip)
test-sam-local:
	@echo "*** SKIPPED: the SAM local test (SAM_LOCAL=skip): no sample went through sam local invoke ***"
else
test-sam-local: deps $(BIN)
	@$(PYTHON) scripts/sam_local.py check
	$(PYTHON) -m pytest -q tests/sam_local
endif

# Removes SAM_LOCAL_HOME (the venv, podman's storage with the stand-in image). podman's overlay
# driver leaves its storage folder bind-mounted on itself, so that mount goes first.
SAM_LOCAL_HOME ?= $(HOME)/.cache/rekognition-guard/sam-local

.PHONY: sam-clean
sam-clean:
	-umount "$(SAM_LOCAL_HOME)/podman/storage/overlay" 2>/dev/null
	rm -rf "$(SAM_LOCAL_HOME)"
