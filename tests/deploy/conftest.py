"""Fixtures for the deployment tests (template.yaml, samconfig.toml, the EventBridge rules).

Everything runs offline: the SAM translator gets a stub managed-policy loader, and the only
"AWS" is a moto server started here on a free 127.0.0.1 port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

import cfn


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return cfn.load_template()


@pytest.fixture(scope="session")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation the SAM transform produces with default parameter values."""
    return cfn.translate(template)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server (`python3 -m moto.server`) for this session; its URL."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=cfn.REGION)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not listen on 127.0.0.1:{port} within 30 s")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture()
def aws(moto_endpoint: str) -> Iterator[dict[str, Any]]:
    """boto3 clients for the moto server, on a state reset before each test."""
    import boto3
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    kwargs = dict(endpoint_url=moto_endpoint, region_name=cfn.REGION,
                  aws_access_key_id="testing", aws_secret_access_key="testing")
    yield {"events": boto3.client("events", **kwargs), "sqs": boto3.client("sqs", **kwargs)}
