"""The release's packaging and its check (scripts/release.py), without the LTO build: stand-in
zips go through the same `package` step as `make release`'s (the real cargo cyclonedx SBOM, the
packaged templates, SHA256SUMS), and `check` (`make release-check`) must accept exactly that and
refuse a changed byte. `make release` runs the build and then the same check on the real zips."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import cfn
from cfn import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import release  # noqa: E402

SCRIPT = [sys.executable, str(ROOT / "scripts" / "release.py")]


def stand_in(path: Path, arch: str) -> Path:
    """A zip shaped like cargo lambda's: `bootstrap`, executable, an ELF header for `arch`."""
    elf = b"\x7fELF\x02\x01\x01" + bytes(11) + release.ARCHES[arch][1].to_bytes(2, "little") + bytes(44)
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o100755 << 16
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(info, elf)
    return path


def run(dist: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SCRIPT, "--dist", str(dist), *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("release")
    zips = [f"--zip={arch}={stand_in(work / f'{arch}.zip', arch)}" for arch in release.ARCHES]
    packaged = run(work / "dist", "package", *zips)
    assert packaged.returncode == 0, packaged.stderr
    return work / "dist"


def test_a_packaged_release_passes_its_check(dist: Path) -> None:
    ver = release.version()
    assert sorted(p.name for p in dist.iterdir()) == sorted(
        ["SHA256SUMS"] + [name for arch in release.ARCHES for name in release.names(arch, ver).values()])
    checked = run(dist, "check")
    assert checked.returncode == 0, checked.stderr
    assert f"release {ver} (arm64, x86_64)" in checked.stdout
    assert "checksums match" in checked.stdout


def test_the_sbom_lists_the_sdk_crates_of_the_binary_and_no_test_crate(dist: Path) -> None:
    sbom = json.loads((dist / release.names("arm64", release.version())["sbom"]).read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    components = {c["name"]: c["version"] for c in sbom["components"]}
    lock = release.sdk_crates()
    assert {"aws-sdk-s3", "aws-sdk-kms", "aws-sdk-sns", "aws-sdk-organizations", "aws-sdk-rekognition"} <= lock.keys()
    for name, version in lock.items():
        assert components.get(name) == version, name
    assert not {"proptest", "aws-smithy-mocks", "tempfile"} & components.keys()
    # Build-only crates are not in the binary; the C library it links is.
    assert "cc" not in components and "aws-lc-sys" in components


def test_the_checksums_cover_every_file(dist: Path) -> None:
    listed = dict(reversed(line.split("  ", 1)) for line in (dist / "SHA256SUMS").read_text().splitlines())
    assert sorted(listed) == sorted(p.name for p in dist.iterdir() if p.name != "SHA256SUMS")
    for name, digest in listed.items():
        assert release.sha256(dist / name) == digest
    # The same format as coreutils: `sha256sum -c` agrees.
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=dist).returncode == 0


def test_each_packaged_template_deploys_its_zip(dist: Path) -> None:
    ver = release.version()
    for arch in release.ARCHES:
        names = release.names(arch, ver)
        template = cfn.load_template(dist / names["template"])
        function = template["Resources"]["RemediationFunction"]
        assert function["Properties"]["CodeUri"] == names["zip"]
        assert function["Properties"]["Architectures"] == [arch]
        assert "BuildMethod" not in function.get("Metadata", {})
        # SAM takes it as it takes template.yaml.
        translated = cfn.translate(template)
        [fn] = [r for r in translated["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
        assert fn["Properties"]["Architectures"] == [arch]
        # Everything else is template.yaml's.
        original = cfn.load_template()
        for key in ("Parameters", "Outputs"):
            assert template[key] == original[key]


def test_a_changed_byte_fails_the_check(dist: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dist"
    subprocess.run(["cp", "-r", str(dist), str(copy)], check=True)
    artifact = copy / release.names("x86_64", release.version())["zip"]
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 1
    artifact.write_bytes(bytes(data))
    checked = run(copy, "check")
    assert checked.returncode == 1
    assert f"{artifact.name}: SHA-256" in checked.stderr and "does not match SHA256SUMS" in checked.stderr
    assert len(checked.stderr.strip().splitlines()) == 1, checked.stderr
