"""The benchmark's AWS-like latency (issue 16): bench/latency_proxy.py in front of moto, and the
critical path and in-flight figures bench/latency.py reads from its log.

What `make bench` reports at latency rests on these: every request through the proxy takes at
least the round trip, requests in flight overlap instead of queueing, and the depth of the request
graph counts sequential round trips, not requests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import latency  # noqa: E402

LATENCY_MS = 60.0


@pytest.fixture(params=[False, True], ids=["round-trip", "hold"])
def proxy(request: pytest.FixtureRequest, moto_endpoint: str) -> Iterator[latency.LatencyProxy]:
    p = latency.LatencyProxy(moto_endpoint, LATENCY_MS, hold=request.param)
    try:
        yield p
    finally:
        p.close()


def s3(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, max_pool_connections=8))


def test_every_request_takes_the_round_trip_and_sequential_ones_chain(proxy: latency.LatencyProxy) -> None:
    client = s3(proxy.endpoint)
    client.create_bucket(Bucket="latency-a")
    client.put_bucket_tagging(Bucket="latency-a", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert client.get_bucket_tagging(Bucket="latency-a")["TagSet"] == [{"Key": "k", "Value": "v"}]

    log = proxy.log()
    assert [e["operation"] for e in log] == ["CreateBucket", "PutBucketTagging", "GetBucketTagging"]
    assert all(e["t_out"] - e["t_in"] >= LATENCY_MS / 1000 for e in log), log
    depth, chain = latency.critical_path(log)
    assert depth == 3
    assert chain == ["s3:CreateBucket", "s3:PutBucketTagging", "s3:GetBucketTagging"]
    assert latency.in_flight(log) == pytest.approx(1.0)


def test_requests_in_flight_overlap_into_one_round_trip(proxy: latency.LatencyProxy) -> None:
    client = s3(proxy.endpoint)
    names = [f"latency-{i}" for i in range(6)]
    for name in names:
        client.create_bucket(Bucket=name)
    proxy.clear()
    with ThreadPoolExecutor(len(names)) as pool:
        answers = list(pool.map(lambda n: client.get_bucket_location(Bucket=n), names))
    assert len(answers) == len(names)

    log = proxy.log()
    assert sorted(e["path"] for e in log) == sorted(f"/{n}" for n in names)
    assert all(e["t_out"] - e["t_in"] >= LATENCY_MS / 1000 for e in log), log
    # Sent together, before any answer: one round trip deep, several outstanding at once.
    depth, _ = latency.critical_path(log)
    assert depth == 1
    assert latency.in_flight(log) > 2.0


def test_critical_path_and_in_flight_from_timestamps() -> None:
    def entry(op: str, t_in: float, t_out: float) -> dict:
        return {"service": "s3", "operation": op, "t_in": t_in, "t_out": t_out}

    # a and b at once; c after a; d after c; e after a only (sent before b and c answered):
    # the chain a -> c -> d is 3 deep.
    log = [entry("a", 0, 1), entry("b", 0, 2), entry("c", 1, 2), entry("d", 2.5, 3), entry("e", 1.5, 4)]
    assert latency.critical_path(log) == (3, ["s3:a", "s3:c", "s3:d"])
    # Busy from 0 to 4 (4 s), 1 + 2 + 1 + 0.5 + 2.5 = 7 s of requests: 1.75 on average.
    assert latency.in_flight(log) == pytest.approx(7 / 4)
    assert latency.critical_path([]) == (0, [])
    assert latency.in_flight([]) == 0.0
