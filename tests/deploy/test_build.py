"""One compile: the binary `make demo` builds and the test build resolve the same features for
every dependency (Cargo.toml's `test-build` feature), so the AWS SDK is compiled once for both;
and the release build leaves the test utilities out."""

from __future__ import annotations

import subprocess
import tomllib

import pytest

from cfn import ROOT

HOST = "x86_64-unknown-linux-gnu"


def resolved(*args: str) -> dict[str, str]:
    """`cargo tree`'s packages with their features, this crate left out: {"name version": features}."""
    out = subprocess.run(
        ["cargo", "tree", "--prefix", "none", "-f", "{p} [{f}]", "--target", HOST, *args],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    packages = {}
    for line in out.splitlines():
        line = line.removesuffix(" (*)")
        if not line.strip() or line.startswith("rekognition-guard "):
            continue
        name, _, features = line.partition(" [")
        packages[name.removesuffix(" (proc-macro)")] = features.rstrip("]")
    return packages


@pytest.fixture(scope="module")
def test_build() -> dict[str, str]:
    return resolved()  # what `cargo test` builds: dev-dependencies included


def test_the_demo_build_resolves_the_test_builds_features(test_build: dict[str, str]) -> None:
    demo = resolved("-e", "no-dev", "--features", "test-build")
    differ = {p: (demo.get(p), test_build.get(p)) for p in demo.keys() | test_build.keys()
              if demo.get(p) != test_build.get(p)}
    assert not differ, ("the demo's binary and the tests would compile these packages twice "
                        f"(demo features, test features): {differ}; add what the dev-dependencies "
                        "enable to the test-build feature in Cargo.toml")


def test_the_release_build_has_no_test_utilities() -> None:
    release = resolved("-e", "no-dev")
    with_test_util = {p.split()[0] for p, f in release.items() if "test-util" in f.split(",")}
    # aws-config itself turns on aws-credential-types/test-util (and with it these two): upstream.
    upstream = {"aws-credential-types", "aws-smithy-runtime-api", "aws-smithy-types"}
    assert with_test_util <= upstream, f"the Lambda would carry test utilities: {sorted(with_test_util - upstream)}"
    assert not {"aws-smithy-mocks", "proptest", "tempfile"} & {p.split()[0] for p in release}


def test_the_feature_lists_every_dev_dependency() -> None:
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    feature = set(manifest["features"]["test-build"])
    for name, spec in manifest["dev-dependencies"].items():
        extra = spec.get("features", []) if isinstance(spec, dict) else []
        if name in manifest["dependencies"]:
            normal = manifest["dependencies"][name]
            normal_features = normal.get("features", []) if isinstance(normal, dict) else []
            if isinstance(normal, dict) and normal.get("optional"):
                assert f"dep:{name}" in feature, f"{name}: dep:{name} missing from test-build"
            for f in set(extra) - set(normal_features):
                assert f"{name}/{f}" in feature, f"{name}/{f} missing from test-build"
        else:
            pytest.fail(f"dev-dependency {name} is not an optional dependency enabled by test-build")
