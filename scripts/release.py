#!/usr/bin/env python3
"""`make release` and `make release-check`: what a security team asks for before it deploys a
tool with write access, in dist/ (VERSION is Cargo.toml's):

  rekognition-guard-VERSION-ARCH.zip       the Lambda artifact (`bootstrap`), cargo lambda build --release
  rekognition-guard-VERSION-ARCH.cdx.json  CycloneDX SBOM of the crates compiled into that binary
                                           (cargo cyclonedx: the release build's dependencies for
                                           that target, no dev- or build-only crate)
  template-VERSION-ARCH.yaml               template.yaml deploying that zip (CodeUri, Architectures;
                                           no build step): `sam deploy -t` it
  SHA256SUMS                               of every file above, `sha256sum -c` format

  release.py build [--arch arm64] [--arch x86_64]   build each arch, then `package`
  release.py package --zip ARCH=PATH [...]           templates, SBOMs and checksums for built zips
  release.py check                                   checksums match; each SBOM lists the SDK crates at
                                                     Cargo.lock's versions and no test-only crate; each
                                                     zip holds an executable bootstrap for its arch;
                                                     each template points at its zip

`--dist DIR` (default dist/) for all three. Build and package are separate so that the suite tests
packaging and checking (tests/deploy/test_release.py) without the 10-20 minute LTO build.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = "rekognition-guard"
# Lambda architecture -> Rust target, and the ELF e_machine of its binaries.
ARCHES = {"arm64": ("aarch64-unknown-linux-gnu", 0xB7), "x86_64": ("x86_64-unknown-linux-gnu", 0x3E)}
# Crates that only tests use: never in a release SBOM.
TEST_ONLY = {"aws-smithy-mocks", "proptest", "tempfile"}


class ReleaseError(Exception):
    """One line saying what is wrong with a release."""


def say(message: str) -> None:
    print(f"release: {message}", file=sys.stderr, flush=True)


def version() -> str:
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]


def names(arch: str, ver: str) -> dict[str, str]:
    return {"zip": f"{BIN}-{ver}-{arch}.zip", "sbom": f"{BIN}-{ver}-{arch}.cdx.json",
            "template": f"template-{ver}-{arch}.yaml"}


def sdk_crates() -> dict[str, str]:
    """The AWS SDK crates the binary depends on, with Cargo.lock's versions."""
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    wanted = {n for n in manifest["dependencies"] if n.startswith("aws-sdk-")}
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"] if p["name"] in wanted}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------
# build
# ------------------------------------------------------------------------------------------------


def build(arch: str) -> Path:
    """cargo lambda build --release for `arch`; the zip it wrote."""
    target, _ = ARCHES[arch]
    lambda_dir = ROOT / "target" / "lambda" / arch
    cmd = ["cargo", "lambda", "build", "--release", "--target", target, "--bin", BIN,
           "--output-format", "zip", "--lambda-dir", str(lambda_dir)]
    say(f"{arch}: {' '.join(cmd[:-1])} {os.path.relpath(lambda_dir, ROOT)} (fat LTO: 10-20 minutes on 2 cores)")
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise ReleaseError(f"cargo lambda build for {arch} failed (see above); `make release-deps` installs "
                           f"cargo-lambda and the {target} target")
    return lambda_dir / BIN / "bootstrap.zip"


# ------------------------------------------------------------------------------------------------
# package
# ------------------------------------------------------------------------------------------------


def packaged_template(text: str, arch: str, zip_name: str) -> str:
    """template.yaml deploying a built zip: CodeUri the zip (beside the template), Architectures
    `arch`, and no BuildMethod (`sam deploy` uploads the zip as it is, nothing is built)."""
    edits = [
        ("      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: rekognition-guard\n", ""),
        ("      CodeUri: .\n", f"      CodeUri: {zip_name}\n"),
        ("      Architectures: [arm64]\n", f"      Architectures: [{arch}]\n"),
    ]
    for old, new in edits:
        if text.count(old) != 1:
            raise ReleaseError(f"template.yaml no longer has {old.strip()!r} once: update scripts/release.py")
        text = text.replace(old, new)
    return f"# Packaged by `make release`: deploys {zip_name} (see docs/src/deployment.md, \"Deploying a release\").\n{text}"


def sbom(arch: str, out: Path) -> None:
    """cargo cyclonedx for the release build of `arch`: default features, the target's
    dependencies, the binary only."""
    target, _ = ARCHES[arch]
    produced = ROOT / f"{BIN}_bin.cdx.json"
    cmd = ["cargo", "cyclonedx", "--format", "json", "--describe", "binaries", "--target", target,
           "--spec-version", "1.5", "--no-build-deps", "-q"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0 or not produced.exists():
        raise ReleaseError(f"cargo cyclonedx failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}; "
                           "`cargo install --locked cargo-cyclonedx` installs it")
    shutil.move(produced, out)


def package(zips: dict[str, Path], dist: Path) -> None:
    ver = version()
    dist.mkdir(parents=True, exist_ok=True)
    template = (ROOT / "template.yaml").read_text()
    for arch, built in zips.items():
        n = names(arch, ver)
        shutil.copyfile(built, dist / n["zip"])
        (dist / n["template"]).write_text(packaged_template(template, arch, n["zip"]))
        sbom(arch, dist / n["sbom"])
    files = sorted(p for p in dist.iterdir() if p.is_file() and p.name != "SHA256SUMS")
    (dist / "SHA256SUMS").write_text("".join(f"{sha256(p)}  {p.name}\n" for p in files))
    say(f"{os.path.relpath(dist, ROOT)}/: " + ", ".join(p.name for p in files) + ", SHA256SUMS")


# ------------------------------------------------------------------------------------------------
# check
# ------------------------------------------------------------------------------------------------


def check_sums(dist: Path) -> list[str]:
    sums = dist / "SHA256SUMS"
    if not sums.exists():
        raise ReleaseError(f"{sums} is missing: run `make release`")
    listed = {}
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    present = {p.name for p in dist.iterdir() if p.is_file() and p.name != "SHA256SUMS"}
    if present - listed.keys():
        raise ReleaseError(f"not in SHA256SUMS: {', '.join(sorted(present - listed.keys()))}")
    for name, digest in listed.items():
        if not (dist / name).exists():
            raise ReleaseError(f"SHA256SUMS lists {name}, which is missing")
        if sha256(dist / name) != digest:
            raise ReleaseError(f"{name}: SHA-256 {sha256(dist / name)} does not match SHA256SUMS ({digest})")
    return sorted(listed)


def check_sbom(path: Path, ver: str) -> int:
    doc = json.loads(path.read_text())
    if doc.get("bomFormat") != "CycloneDX":
        raise ReleaseError(f"{path.name} is not a CycloneDX document")
    top = doc.get("metadata", {}).get("component", {})
    if top.get("name") != BIN or top.get("version") != ver:
        raise ReleaseError(f"{path.name} describes {top.get('name')} {top.get('version')}, not {BIN} {ver}")
    components = {c.get("name"): c.get("version") for c in doc.get("components", [])}
    for name, locked in sdk_crates().items():
        if components.get(name) != locked:
            raise ReleaseError(f"{path.name} lists {name} {components.get(name)}, Cargo.lock has {locked}")
    if TEST_ONLY & components.keys():
        raise ReleaseError(f"{path.name} lists test-only crates: {', '.join(sorted(TEST_ONLY & components.keys()))}")
    return len(components)


def check_zip(path: Path, arch: str) -> None:
    with zipfile.ZipFile(path) as z:
        try:
            info = z.getinfo("bootstrap")
        except KeyError:
            raise ReleaseError(f"{path.name} has no bootstrap") from None
        head = z.open(info).read(20)
    mode = info.external_attr >> 16
    if not mode & 0o111:
        raise ReleaseError(f"{path.name}: bootstrap is not executable (mode {oct(mode)})")
    if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != ARCHES[arch][1]:
        raise ReleaseError(f"{path.name}: bootstrap is not a Linux {arch} executable")


def check_template(path: Path, arch: str, zip_name: str) -> None:
    text = path.read_text()
    if f"CodeUri: {zip_name}\n" not in text or f"Architectures: [{arch}]\n" not in text:
        raise ReleaseError(f"{path.name} does not deploy {zip_name} on {arch}")
    if "BuildMethod:" in text:
        raise ReleaseError(f"{path.name} still builds the function")


def check(dist: Path) -> None:
    ver = version()
    listed = check_sums(dist)
    arches = [a for a in ARCHES if names(a, ver)["zip"] in listed]
    if not arches:
        raise ReleaseError(f"{dist} holds no artifact of version {ver}")
    for arch in arches:
        n = names(arch, ver)
        for kind in ("sbom", "template"):
            if n[kind] not in listed:
                raise ReleaseError(f"{n[kind]} is missing")
        check_zip(dist / n["zip"], arch)
        check_template(dist / n["template"], arch, n["zip"])
        crates = check_sbom(dist / n["sbom"], ver)
        print(f"{n['zip']}: sha256 {sha256(dist / n['zip'])}, {(dist / n['zip']).stat().st_size} bytes, "
              f"SBOM {crates} crates")
    print(f"release {ver} ({', '.join(arches)}) in {os.path.relpath(dist, ROOT)}/: checksums match, "
          f"SBOMs list {len(sdk_crates())} AWS SDK crates at Cargo.lock's versions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--arch", action="append", choices=sorted(ARCHES))
    p = sub.add_parser("package")
    p.add_argument("--zip", action="append", required=True, metavar="ARCH=PATH")
    sub.add_parser("check")
    args = parser.parse_args()
    try:
        if args.command == "build":
            built = {arch: build(arch) for arch in args.arch or list(ARCHES)}
            if args.dist.exists():
                shutil.rmtree(args.dist)
            package(built, args.dist)
            check(args.dist)
        elif args.command == "package":
            zips = {}
            for item in args.zip:
                arch, _, path = item.partition("=")
                if arch not in ARCHES or not Path(path).is_file():
                    raise ReleaseError(f"--zip {item}: expected ARCH=PATH with ARCH one of {', '.join(ARCHES)}")
                zips[arch] = Path(path)
            package(zips, args.dist)
        else:
            check(args.dist)
    except ReleaseError as e:
        say(str(e))
        sys.exit(1)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        say(f"{type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
