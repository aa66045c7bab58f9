"""Fixtures for the SAM local test: one moto server and one SAM local session (container engine,
base image, route from the container to moto, local template) for the whole run; both stopped at
the end. `make test-sam-local` installs what this needs first (scripts/sam_local.py check).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local  # noqa: E402
import sam_local  # noqa: E402

EVENTS = sorted((ROOT / "events").glob("*.json"))
SESSIONS: list[sam_local.Sam] = []


def binary() -> Path:
    path = Path(os.environ.get("REKOGNITION_GUARD_BIN", ROOT / "target" / "debug" / "rekognition-guard"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo build` first (make test-sam-local does)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def rekognition_guard() -> Path:
    return binary()


@pytest.fixture(scope="session")
def moto() -> Iterator[str]:
    with local.emulator() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def sam(moto: str) -> Iterator[sam_local.Sam]:
    if os.environ.get("SAM_LOCAL") == "skip":
        pytest.skip("SKIPPED: SAM local test (SAM_LOCAL=skip): no sample went through sam local invoke")
    # Every variable any sample's run sets must be declared in the local template.
    names = {"GUARD_ALERT_TOPIC_ARN", "GUARD_KMS_KEY_ID"}
    for path in EVENTS:
        names |= set(local.settings_for_event(json.loads(path.read_text())))
    try:
        with sam_local.session(binary(), moto, sorted(names)) as session:
            SESSIONS.append(session)
            yield session
    except sam_local.SamLocalError as e:
        pytest.fail(f"sam-local: {e}", pytrace=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook
    timings = [t for session in SESSIONS for t in session.timings]
    if timings:
        seconds = [s for _, s in timings]
        slowest = max(timings, key=lambda t: t[1])
        terminalreporter.write_line(
            f"sam local invoke: {len(seconds)} invocations, median {statistics.median(seconds):.1f} s, "
            f"total {sum(seconds):.0f} s, slowest {slowest[1]:.1f} s ({slowest[0]})")
