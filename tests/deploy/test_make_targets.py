"""`make invoke` as a person runs it (issue 28): the report's verdict "non-compliance remains"
(exit 3) is not a make error, the command shown can be copied and run again (no temporary file),
a mistyped event path is one line. Through make itself, so the exit codes are make's."""

from __future__ import annotations

import os
import subprocess
import sys

from cfn import ROOT

PROJECT_EVENT = "events/create-project-version.json"


def make(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GUARD_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"))}
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True,
                          env={**clean, "PYTHON": sys.executable, **env}, timeout=1800)


def test_a_missing_event_file_is_one_line_and_exit_2_before_anything_runs() -> None:
    out = make("invoke", "EVENT=events/no-such-event.json")
    assert out.returncode == 2
    assert out.stdout == ""
    [line] = out.stderr.strip().splitlines()
    assert line.endswith("*** no event file events/no-such-event.json: the samples are in events/.  Stop."), line
    # The script alone says it in one line too, without a traceback.
    direct = subprocess.run([sys.executable, "scripts/local.py", "invoke", "--binary", "/bin/false", "--event",
                             "events/no-such-event.json"], cwd=ROOT, capture_output=True, text=True)
    assert direct.returncode == 2
    assert direct.stderr.strip().splitlines() == [
        "local.py: no event file events/no-such-event.json; the samples are in events/ (ls events/)"]


def test_non_compliance_is_the_reports_verdict_not_a_make_error() -> None:
    out = make("invoke", f"EVENT={PROJECT_EVENT}")
    shown = out.stdout + out.stderr
    assert out.returncode == 0, shown
    assert "(non-compliance remains (exit 3))" in out.stdout, shown
    assert "Error 3" not in shown and "***" not in shown, shown
    # Every command printed can be run again as printed: no temporary file, a rerun line.
    assert "/tmp" not in shown, shown
    commands = [line for line in out.stdout.splitlines() if line.startswith("$ ")]
    assert commands and all(PROJECT_EVENT in c for c in commands), commands
    assert out.stdout.rstrip().endswith(f"rerun: make invoke EVENT={PROJECT_EVENT}")


def test_a_failure_is_still_a_make_error() -> None:
    out = make("invoke", "EVENT=events/create-bucket-console.json",
               GUARD_ALERT_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:no-such-topic")
    assert out.returncode == 2, out.stdout + out.stderr  # make's own code for a failed recipe
    assert "(a control, the alert or the change record failed (exit 1))" in out.stdout
