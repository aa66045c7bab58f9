"""The doc test (issue 27): the commands of docs/src/getting-started.md run as written.

Every fenced block whose info string carries `doctest` (```` ```sh doctest ````) is run, all
blocks in one bash shell (so `export` and `&` carry over), from a scratch directory that looks
like the repository's root to them: `events/` and `scripts/` are the repository's, and
`target/debug` is the directory of the binary under test (REKOGNITION_GUARD_BIN, default
target/debug/rekognition-guard). Each command must end with exit code 0, or the one its comment
gives (`# exit 3: …`). What the harness changes, and only this: the page's port 5000 becomes a
free one, so parallel runs do not meet; the shell starts without AWS_* and GUARD_* variables,
as a reader's would. The shell's process group (the emulator the page starts included) is
stopped at the end.
"""
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

import docs
from docs import BOOK, ROOT

PAGE = BOOK / "getting-started.md"
BINARY = os.environ.get("REKOGNITION_GUARD_BIN", str(ROOT / "target" / "debug" / "rekognition-guard"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_page_has_a_doctest_that_drives_the_binary():
    commands = docs.doctest_commands(PAGE.read_text())
    assert len(commands) >= 8, commands
    text = " ".join(c for c, _, _ in commands)
    for needed in ("moto.server", "rekognition-guard invoke", "rekognition-guard scan", "undo"):
        assert needed in text, needed
    # Exit codes that change along the way: the test can tell a fix from no fix.
    assert {e for _, e, _ in commands} >= {0, 3}


def test_commands_and_exit_codes_are_read_as_written():
    page = ("```sh doctest\nexport A=1 \\\n       B=2\n# a comment\nfalse   # exit 1: it fails\nsleep 1 &\n```\n"
            "```sh\nnot run\n```\n")
    assert docs.doctest_commands(page) == [("export A=1         B=2", 0, 2), ("false   # exit 1: it fails", 1, 5),
                                           ("sleep 1 &", 0, 6)]


def run(script, cwd, env, timeout=300):
    proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the emulator the page started, if still running
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.fixture
def scratch(tmp_path):
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"{BINARY} is missing: build it (make test-docs does), or set REKOGNITION_GUARD_BIN")
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "debug").symlink_to(os.path.dirname(os.path.abspath(BINARY)))
    for name in ("events", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GUARD_")) and k != "MOTO_ENDPOINT"}
    return tmp_path, env


def test_the_getting_started_commands_run_against_the_emulator(scratch):
    cwd, env = scratch
    port = str(free_port())
    commands = [(c.replace("127.0.0.1:5000", f"127.0.0.1:{port}").replace("-p 5000", f"-p {port}"), e, n)
                for c, e, n in docs.doctest_commands(PAGE.read_text())]
    code, out, err = run(docs.doctest_script(commands), cwd, env)
    assert code == 0, f"exit code {code}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
    # The story the page tells, read from the output: fixed, then put back.
    assert "remediated" in out and "would-remediate" in out and "restored" in out, out
    assert (cwd / "rekognition-guard-history.jsonl").is_file()


def test_a_command_that_fails_stops_the_doctest(scratch):
    cwd, env = scratch
    script = docs.doctest_script([("true", 0, 1), ("rekognition-guard --no-such-flag", 0, 2), ("echo after", 0, 3)])
    code, out, err = run(f'export PATH="$PWD/target/debug:$PATH"\n{script}', cwd, env, timeout=60)
    assert code == 97 and "after" not in out, (code, out, err)
    assert "doctest: line 2: exit code 2, expected 0: rekognition-guard --no-such-flag" in err, err


def test_the_readmes_first_command_remediates_a_bucket():
    """The README's two commands are `make demo` and `make test`; this runs the first (the
    second is what is running) and reads the story from its output: the bucket as the console
    leaves it, fixed and read back, a rerun with nothing to do, the undo refused the second time
    (the demo exits non-zero on any other exit code)."""
    readme = (ROOT / "README.md").read_text()
    two = [body for info, body, _ in docs.blocks(readme) if info == "sh" and "make demo" in body]
    assert len(two) == 1, "the README's block of the two commands"
    assert [line.split("#")[0].strip() for line in two[0].strip().split("\n")] == ["make demo", "make test"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GUARD_")) and k != "MOTO_ENDPOINT"}
    if os.environ.get("REKOGNITION_GUARD_BIN"):  # the binary under test, wherever cargo put it
        env["BIN"] = os.environ["REKOGNITION_GUARD_BIN"]
    proc = subprocess.run(["make", "--no-print-directory", "demo", *([f"BIN={env['BIN']}"] if "BIN" in env else [])],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    out = proc.stdout
    assert '"SSEAlgorithm": "AES256"' in out and '"SSEAlgorithm": "aws:kms"' in out, out
    assert '"Sid": "DenyInsecureTransport"' in out and "remediated" in out, out
    assert "Subject: [MEDIUM] rekognition-guard: 2 remediated in" in out, out


def transcripts(text):
    """(event file, shown (resource, control, status) rows, shown exit code) of each ```` $ make invoke
    EVENT=… ```` transcript on a page."""
    out = []
    for _, body, _ in docs.blocks(text):
        lines = body.split("\n")
        if not lines[0].startswith("$ make invoke EVENT="):
            continue
        event = lines[0].split("EVENT=", 1)[1].strip()
        rows = [tuple(re.split(r"\s{2,}", line)[:3]) for line in lines[2:] if re.match(r"^[a-z0-9-]+ \S", line)
                and not line.startswith(("alert:", "summary:", "change record:", "security hub:"))]
        # "(exit code 3)", or "non-compliance remains (exit 3)" as scripts/local.py may put it
        code = re.search(r"\(exit(?: code)? (\d+)\)\s*$", body, re.M)
        out.append((event, [(r[0], r[1], r[2]) for r in rows if len(r) == 3], int(code.group(1)) if code else None))
    return out


def test_the_make_invoke_transcript_is_what_the_sample_gives(tmp_path):
    """The `make invoke` transcript on the page: the same sample, run the way `make invoke` runs it
    (scripts/local.py invoke, a fresh emulator), gives the same status for every resource and
    control, and the same exit code."""
    shown = transcripts(PAGE.read_text())
    assert len(shown) >= 1 and all(len(rows) >= 5 for _, rows, _ in shown), shown
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GUARD_")) and k != "MOTO_ENDPOINT"}
    env["GUARD_HISTORY_FILE"] = str(tmp_path / "history.jsonl")  # not the repository's working directory
    for event, rows, code in shown:
        proc = subprocess.run([sys.executable, "scripts/local.py", "invoke", "--binary", BINARY, "--event", event],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        ran = {(r, c): s for r, c, s in transcripts(f"$ make invoke EVENT={event}\n{proc.stdout}"
                                                    .join(["```\n", "\n```\n"]))[0][1]}
        assert {(r, c): s for r, c, s in rows} == ran, f"{event}\n{proc.stdout}\n{proc.stderr}"
        assert proc.returncode == code, (proc.returncode, code)


def test_a_transcript_is_read_as_shown():
    page = ("```\n$ make invoke EVENT=events/x.json\ntrigger: bucket-created …\nRESOURCE  CONTROL  STATUS  DETAIL\n"
            "s3-bucket b1  sse-kms  remediated  no default encryption\norganization 1  ai-opt-out  non-compliant  …\n"
            "alert: not published (…)\n(exit code 3)\n```\n")
    assert transcripts(page.replace("(exit code 3)", "non-compliance remains (exit 3)")) == transcripts(page)
    assert transcripts(page) == [("events/x.json", [("s3-bucket b1", "sse-kms", "remediated"),
                                                    ("organization 1", "ai-opt-out", "non-compliant")], 3)]
