#!/usr/bin/env python3
"""`sam local invoke` on this machine, against moto: the container engine, the base image, the
route from the container to moto on 127.0.0.1, and a local copy of template.yaml.

  sam_local.py deps                          installs what SAM local needs (apt-get, pip; once)
  sam_local.py check                         deps, then one clear line unless a container can run
  sam_local.py invoke --binary B --event F   `make sam-local`: seeds what F names (as `make invoke`),
                                             runs F through `sam local invoke`, prints SAM's output
                                             and every bucket the event names, before -> after

Engine: Docker when a Docker daemon answers; otherwise Debian's podman, serving the Docker API on
a socket of this run's own, started here and stopped by its PID. podman runs containers with runc
(crun cannot: "cgroups in hybrid mode not supported") and ulimits within what runc can set here.

Image: SAM builds its `...-rapid-<arch>` image on `public.ecr.aws/lambda/provided:al2023-<arch>`.
With Docker that is the real image (pulled when missing). Without, a stand-in under that tag: a
Debian minbase root file system from debootstrap (plus CA certificates, which the function's TLS
stack requires at start), made once and kept in SAM_LOCAL_HOME. It is not Amazon Linux 2023.

Network: the container reaches moto, bound to 127.0.0.1:PORT, at the engine bridge's gateway
address through one iptables DNAT rule, removed on exit.

Template: target/sam-local/template.json, a copy of template.yaml that differs in three places:
the architecture is the host's, CodeUri is the already built binary (as `bootstrap`), and the
variables the local run sets that the template does not declare (AWS_ENDPOINT_URL) are declared,
because SAM passes no other. template.yaml itself is not changed.
"""
import argparse
import contextlib
import fcntl
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "deploy"))

import cfn  # noqa: E402  (the project's one template.yaml loader)
import local  # noqa: E402  (the one place that seeds what an event names)

HOME = Path(os.environ.get("SAM_LOCAL_HOME") or Path.home() / ".cache" / "rekognition-guard" / "sam-local")
SAM_CLI_VERSION = "1.170.0"
SAM = HOME / "venv" / "bin" / "sam"
WORK = ROOT / "target" / "sam-local"
# Debian packages the podman path needs, by the command each one provides.
APT_PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap", "iptables": "iptables"}
SKIP_HINT = "set SAM_LOCAL=skip to skip the SAM local test"


class SamLocalError(Exception):
    """Something SAM local needs is missing; the message is one line naming it."""


def say(message):
    print(f"sam-local: {message}", file=sys.stderr, flush=True)


def lambda_arch():
    """The Lambda architecture name of this host: local runs use it, whatever template.yaml says
    (an arm64 function on an x86_64 host would need qemu-user-static and an arm64 build)."""
    machine = platform.machine()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def base_image(arch):
    return f"public.ecr.aws/lambda/provided:al2023-{arch}"


# --------------------------------------------------------------------------------------------
# Installing: Debian packages for podman, aws-sam-cli in a virtual environment of its own (its
# pinned boto3 and friends stay out of the test suite's Python).
# --------------------------------------------------------------------------------------------


def docker_daemon():
    """True when a Docker daemon answers (the client alone is not enough)."""
    if not shutil.which("docker"):
        return False
    with contextlib.suppress(subprocess.TimeoutExpired):
        probe = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                               capture_output=True, text=True, timeout=20)
        return probe.returncode == 0
    return False


def install_packages(packages):
    say(f"installing {' '.join(packages)} (apt-get)")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise SamLocalError(f"no container engine: no Docker daemon answers, and `{' '.join(cmd[:2])}` "
                                f"for {' '.join(packages)} failed ({last}); {SKIP_HINT}")


def install_sam():
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        version = subprocess.run([str(SAM), "--version"], capture_output=True, text=True, check=True).stdout
        if SAM_CLI_VERSION in version:
            return
    say(f"installing aws-sam-cli {SAM_CLI_VERSION} into {HOME / 'venv'} (pip)")
    HOME.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(HOME / "venv")], check=True)
    pip = subprocess.run([str(HOME / "venv" / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                          f"aws-sam-cli=={SAM_CLI_VERSION}"], capture_output=True, text=True)
    if pip.returncode != 0:
        last = (pip.stderr.strip().splitlines() or ["no output"])[-1]
        raise SamLocalError(f"pip install aws-sam-cli=={SAM_CLI_VERSION} failed ({last}); {SKIP_HINT}")


def deps():
    if not docker_daemon():
        missing = [pkg for cmd, pkg in APT_PACKAGES.items() if not shutil.which(cmd)]
        if missing:
            install_packages(missing)
    install_sam()


# --------------------------------------------------------------------------------------------
# The container engine
# --------------------------------------------------------------------------------------------


@dataclass
class Engine:
    """A container engine serving the Docker API: `env` points SAM at it, `cli` runs its client."""

    kind: str
    cli: list
    env: dict = field(default_factory=dict)

    def run(self, *args, **kw):
        return subprocess.run([*self.cli, *args], capture_output=True, text=True,
                              env={**os.environ, **self.env}, **kw)

    def output(self, *args):
        proc = self.run(*args)
        if proc.returncode != 0:
            raise SamLocalError(f"`{self.kind} {' '.join(args)}` failed: {last_line(proc.stderr)}")
        return proc.stdout.strip()

    def gateway(self):
        """The address at which a container on the default network reaches the host."""
        if self.kind == "docker":
            return self.output("network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}")
        return self.output("network", "inspect", "podman", "--format", "{{range .Subnets}}{{.Gateway}}{{end}}")

    def bridge(self):
        if self.kind == "docker":
            return self.output("network", "inspect", "bridge", "--format",
                               '{{index .Options "com.docker.network.bridge.name"}}') or "docker0"
        return self.output("network", "inspect", "podman", "--format", "{{.NetworkInterface}}")


def last_line(text):
    return (text.strip().splitlines() or ["no output"])[-1]


def podman_config():
    """containers.conf and storage.conf in SAM_LOCAL_HOME: runc, ulimits runc can set here, and
    storage of the project's own. Returns the environment that selects them."""
    conf = HOME / "podman"
    conf.mkdir(parents=True, exist_ok=True)
    nofile = int(subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True).stdout.strip() or 1024)
    nproc = int(subprocess.run(["sh", "-c", "ulimit -Hu"], capture_output=True, text=True).stdout.strip() or 4096)
    # Measured here: runc fails with "error setting rlimit type 6" for nproc above kernel.pid_max
    # (32768), and for any limit above the host's hard limit.
    with contextlib.suppress(OSError, ValueError):
        nproc = min(nproc, int(Path("/proc/sys/kernel/pid_max").read_text()))
    (conf / "containers.conf").write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n')
    (conf / "storage.conf").write_text(
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{conf / "storage"}"\n'
        f'runroot = "{conf / "run"}"\n')
    return {"CONTAINERS_CONF": str(conf / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf")}


# --------------------------------------------------------------------------------------------
# What the podman path changes on the host, put back when the last session ends: podman's CNI
# plugins create a bridge (cni-podman0, with route_localnet=1 for its port mappings) and
# iptables chains and rules in the filter and nat tables, and leave them after the containers
# are gone. Sessions of any worktree share them (one podman storage per SAM_LOCAL_HOME), so the
# first session records the host as it found it and the last one restores that, and only when
# no container is running. The apt packages stay installed (README: what `make test` changes).
# --------------------------------------------------------------------------------------------

HOST_STATE_DIR = Path(os.environ.get("SAM_LOCAL_HOST_STATE", "/run/lock" if Path("/run/lock").is_dir() else tempfile.gettempdir()))
HOST_LOCK = HOST_STATE_DIR / "rekognition-guard-sam-local.lock"
HOST_BEFORE = HOST_STATE_DIR / "rekognition-guard-sam-local.before.json"
TABLES = ("filter", "nat")
# Interfaces podman's CNI bridge plugin names; no other new interface is ever removed.
PODMAN_INTERFACES = ("cni-podman", "podman")


def host_network():
    """The host state the podman path changes: iptables rules (`-S`) per table, the network
    interfaces, and route_localnet on each."""
    rules = {}
    for table in TABLES:
        out = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True) \
            if shutil.which("iptables") else None
        rules[table] = out.stdout.splitlines() if out is not None and out.returncode == 0 else []
    net = Path("/sys/class/net")
    interfaces = sorted(p.name for p in net.iterdir()) if net.is_dir() else []
    localnet = {}
    for name in interfaces:
        with contextlib.suppress(OSError):
            localnet[name] = Path(f"/proc/sys/net/ipv4/conf/{name}/route_localnet").read_text().strip()
    return {"rules": rules, "interfaces": interfaces, "route_localnet": localnet}


def undo_plan(before, now):
    """The commands that take the host from `now` back to `before` (pure): rules added since,
    deleted last-added first; chains added since, flushed and deleted; podman interfaces added
    since, deleted; route_localnet put back on the interfaces that were there."""
    plan = []
    for table in TABLES:
        had = set(before["rules"].get(table, []))
        added = [r for r in now["rules"].get(table, []) if r not in had]
        for rule in reversed([r for r in added if r.startswith("-A ")]):
            plan.append(["iptables", "-t", table, "-D", *shlex.split(rule)[1:]])
        chains = [r.split()[1] for r in added if r.startswith("-N ")]
        plan += [["iptables", "-t", table, "-F", c] for c in chains]
        plan += [["iptables", "-t", table, "-X", c] for c in chains]
    for name in now["interfaces"]:
        if name not in before["interfaces"] and name.startswith(PODMAN_INTERFACES):
            plan.append(["ip", "link", "delete", name])
    for name, value in before["route_localnet"].items():
        if name in now["route_localnet"] and now["route_localnet"][name] != value:
            plan.append(["sysctl", "-q", "-w", f"net.ipv4.conf.{name}.route_localnet={value}"])
    return plan


def containers_running(env):
    proc = subprocess.run(["podman", "ps", "-q"], capture_output=True, text=True, env={**os.environ, **env})
    return proc.returncode != 0 or bool(proc.stdout.strip())


@contextlib.contextmanager
def host_restored(env):
    """Records the host's network state before the first of concurrent sessions, and restores
    it after the last (an exclusive lock then succeeds: no other session holds it shared)."""
    HOST_STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(HOST_LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not HOST_BEFORE.exists():
            HOST_BEFORE.write_text(json.dumps(host_network()))
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield
        finally:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                say("host: another session is running; it puts the host's network back when it ends")
            else:
                restore_host(env)


def restore_host(env):
    """Puts the recorded network state back, unless a container still runs (another worktree's
    session without this code): then says what is left and how to undo it."""
    try:
        before = json.loads(HOST_BEFORE.read_text())
    except (OSError, ValueError):
        return
    plan = undo_plan(before, host_network())
    if not plan:
        HOST_BEFORE.unlink(missing_ok=True)
        return
    if containers_running(env):
        say("host: a container is still running; left in place: " + "; ".join(" ".join(c) for c in plan))
        return
    failed = [c for c in plan if subprocess.run(c, capture_output=True).returncode != 0]
    say(f"host: network put back as before the session ({len(plan) - len(failed)} changes undone)"
        + (f"; could not undo: {'; '.join(' '.join(c) for c in failed)}" if failed else ""))
    HOST_BEFORE.unlink(missing_ok=True)


@contextlib.contextmanager
def engine():
    """Docker when its daemon answers; else a podman API service of this run's own, stopped by
    its PID on exit, and the host's network put back as it was (`host_restored`)."""
    if docker_daemon():
        yield Engine("docker", ["docker"])
        return
    if not shutil.which("podman"):
        raise SamLocalError(f"no container engine: no Docker daemon answers and podman is not installed "
                            f"(run `make sam-deps`); {SKIP_HINT}")
    env = podman_config()
    with host_restored(env), podman_service(env) as eng:
        yield eng


@contextlib.contextmanager
def podman_service(env):
    """A podman API service of this run's own, stopped by its PID on exit."""
    sockdir = Path(tempfile.mkdtemp(prefix="rekognition-guard-podman-"))
    sock = sockdir / "podman.sock"
    WORK.mkdir(parents=True, exist_ok=True)
    log = open(WORK / "podman-service.log", "w")  # kept after the run, for a failure's cause
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"],
                               env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if service.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise SamLocalError(f"podman system service did not start: {last_line((WORK / 'podman-service.log').read_text())}")
            time.sleep(0.05)
        yield Engine("podman", ["podman"], {**env, "DOCKER_HOST": f"unix://{sock}"})
    finally:
        service.terminate()
        try:
            service.wait(15)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(5)
        log.close()
        shutil.rmtree(sockdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The base image
# --------------------------------------------------------------------------------------------


def apt_mirror():
    """The Debian mirror this machine's apt uses (SAM_LOCAL_MIRROR overrides)."""
    if os.environ.get("SAM_LOCAL_MIRROR"):
        return os.environ["SAM_LOCAL_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#"))
            suites = fields.get("Suites", "").split()
            if "deb" in fields.get("Types", "").split() and any("-" not in s for s in suites):
                return fields["URIs"].split()[0]
    with contextlib.suppress(OSError):
        for line in Path("/etc/apt/sources.list").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "-" not in parts[-2]:
                return next(p for p in parts[1:] if "://" in p)
    raise SamLocalError("no Debian mirror found in /etc/apt/sources.list*; set SAM_LOCAL_MIRROR")


def debian_codename():
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "bookworm"


def ensure_image(eng, arch):
    """Makes sure `base_image(arch)` exists. Returns how: cached, pulled or built."""
    tag = base_image(arch)
    if eng.run("image", "inspect", tag).returncode == 0:
        return "cached"
    if eng.kind == "docker":
        if eng.run("pull", tag).returncode == 0:
            return "pulled"
        say(f"docker cannot pull {tag}; building the Debian stand-in under that tag instead")
    HOME.mkdir(parents=True, exist_ok=True)
    with open(HOME / "image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worktree may be building it right now
        if eng.run("image", "inspect", tag).returncode == 0:
            return "cached"
        build_stand_in(eng, arch, tag)
    return "built"


def build_stand_in(eng, arch, tag):
    started = time.monotonic()
    deb_arch = {"x86_64": "amd64", "arm64": "arm64"}[arch]
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=HOME))
    say(f"building the stand-in for {tag}: debootstrap --variant=minbase {debian_codename()} (once, a few minutes)")
    try:
        boot = subprocess.run(["debootstrap", "--variant=minbase", "--include=ca-certificates", f"--arch={deb_arch}",
                               debian_codename(), str(rootfs), apt_mirror()], capture_output=True, text=True)
        if boot.returncode != 0:
            raise SamLocalError(f"debootstrap failed: {last_line(boot.stdout + boot.stderr)}")
        # The environment the Lambda base images set that the function or the emulator reads.
        changes = ["ENV LANG=C.UTF-8", "ENV LAMBDA_TASK_ROOT=/var/task", "ENV LAMBDA_RUNTIME_DIR=/var/runtime",
                   "WORKDIR /var/task"]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([*eng.cli, "import", *[a for c in changes for a in ("--change", c)], "-", tag],
                                  stdin=tar.stdout, capture_output=True, text=True, env={**os.environ, **eng.env})
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0:
            raise SamLocalError(f"{eng.kind} import failed: {last_line(imported.stderr)}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    # SAM builds its rapid image once per base image and keeps it: drop any built on an older base.
    for image in eng.output("images", "--format", "{{.Repository}}:{{.Tag}}").splitlines():
        if "rapid" in image and ("lambda/provided" in image or "emulation-provided" in image):
            eng.run("rmi", "--force", image)
    say(f"stand-in {tag} built in {time.monotonic() - started:.0f} s")


def check_container(eng, arch):
    """One clear line unless the engine can run a container of the base image."""
    proc = eng.run("run", "--rm", "--network", "none", base_image(arch), "sh", "-c", "true")
    if proc.returncode != 0:
        raise SamLocalError(f"{eng.kind} cannot run a container here: {last_line(proc.stderr)}; {SKIP_HINT}")


# --------------------------------------------------------------------------------------------
# The route from the container to moto
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def route_to_host(eng, port):
    """Yields the endpoint at which the container reaches 127.0.0.1:`port`: the bridge gateway,
    DNATed to loopback by one iptables rule that is removed on exit. Loopback is only routed from
    the bridge with route_localnet on it (podman's CNI port mapping sets it on its bridge; for
    another bridge it is set here and restored)."""
    if not shutil.which("iptables"):
        raise SamLocalError(f"iptables is not installed (run `make sam-deps`); {SKIP_HINT}")
    gateway = eng.gateway()
    rule = ["PREROUTING", "-p", "tcp", "-d", gateway, "--dport", str(port), "-m", "comment", "--comment",
            "rekognition-guard sam-local", "-j", "DNAT", "--to-destination", f"127.0.0.1:{port}"]
    added = subprocess.run(["iptables", "-t", "nat", "-I", *rule], capture_output=True, text=True)
    if added.returncode != 0:
        raise SamLocalError(f"iptables cannot add the DNAT rule to moto: {last_line(added.stderr)}; {SKIP_HINT}")
    localnet = Path(f"/proc/sys/net/ipv4/conf/{eng.bridge()}/route_localnet")
    restore = None
    try:
        with contextlib.suppress(OSError):
            if localnet.read_text().strip() == "0":
                localnet.write_text("1")
                restore = "0"
        yield f"http://{gateway}:{port}"
    finally:
        if restore is not None:
            with contextlib.suppress(OSError):
                localnet.write_text(restore)
        subprocess.run(["iptables", "-t", "nat", "-D", *rule], capture_output=True)


# --------------------------------------------------------------------------------------------
# The local template and one invocation
# --------------------------------------------------------------------------------------------


@dataclass
class LocalTemplate:
    path: Path
    function: str
    declared: dict  # name -> the template's own value (an intrinsic stays as SAM resolves it)
    added: list     # names declared here for the local run only


def local_template(binary, arch, extra_vars):
    """target/sam-local/template.json and the function directory it names (see the module doc)."""
    code = WORK / "function"
    code.mkdir(parents=True, exist_ok=True)
    bootstrap = code / "bootstrap"
    with contextlib.suppress(FileNotFoundError):
        bootstrap.unlink()
    try:
        os.link(binary, bootstrap)  # a rebuild replaces the binary, so link again each run
    except OSError:
        shutil.copy2(binary, bootstrap)
    template = cfn.load_template()
    functions = [k for k, r in template["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    if len(functions) != 1:
        raise SamLocalError(f"template.yaml has {len(functions)} functions; sam_local.py expects one")
    resource = template["Resources"][functions[0]]
    resource.pop("Metadata", None)  # BuildMethod: the code is built already
    props = resource["Properties"]
    props["CodeUri"] = str(code)
    props["Architectures"] = [arch]
    variables = props.setdefault("Environment", {}).setdefault("Variables", {})
    declared = dict(variables)
    added = [name for name in extra_vars if name not in variables]
    for name in added:
        variables[name] = ""
    path = WORK / "template.json"
    path.write_text(json.dumps(template, indent=1))
    return LocalTemplate(path, functions[0], declared, added)


@dataclass
class Invocation:
    response: object   # what SAM printed as the function's response (None if nothing)
    logs: str          # SAM's and the function's log output
    seconds: float

    @property
    def error(self):
        """The invocation error, when the function returned one."""
        if isinstance(self.response, dict) and "errorMessage" in self.response:
            return self.response["errorMessage"]
        return None

    def report(self):
        """The function's report: its response, or for a failed invocation the report it logged.
        An SQS batch's response is its `batchItemFailures`; its records' reports are in the log
        (failed records) and in their alerts, as the CLI's `reports` are."""
        if isinstance(self.response, dict) and ("trigger" in self.response or "batchItemFailures" in self.response):
            return self.response
        for line in self.logs.splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("message") == "invocation failed":
                    return json.loads(entry["report"])
        return None


@dataclass
class Sam:
    """One SAM local session: the engine, the local template, and moto as the host (`endpoint`)
    and the container (`inside`) reach it."""

    eng: Engine
    template: LocalTemplate
    endpoint: str
    inside: str
    timings: list = field(default_factory=list)  # (label, seconds) of each invocation

    def env(self, region):
        """SAM's own environment: the engine, test credentials (SAM hands them to the function),
        STS on moto (SAM asks it for the account id, and waits 9 s for AWS when it cannot reach
        it), no telemetry, none of the developer's AWS configuration or GUARD_* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GUARD_"))}
        env.update(self.eng.env, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION=region, AWS_REGION=region, AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_ENDPOINT_URL_STS=self.endpoint,
                   SAM_CLI_TELEMETRY="0")
        # SAM gives the container 20 s to listen; a loaded 2-core machine can need more.
        env.setdefault("SAM_CLI_CONTAINER_CONNECTION_TIMEOUT", "60")
        return env

    def variables(self, settings):
        """What --env-vars gives the function: moto, as the container reaches it, and `settings`."""
        return {"AWS_ENDPOINT_URL": self.inside, **settings}

    def invoke(self, event, settings, region=local.REGION, label="event"):
        """`sam local invoke` of `event` (a dict) by the stack of `region`, the function's
        variables from `settings`."""
        WORK.mkdir(parents=True, exist_ok=True)
        event_file = WORK / "event.json"
        event_file.write_text(json.dumps(event))
        env_file = WORK / "env-vars.json"
        env_file.write_text(json.dumps({self.template.function: self.variables(settings)}, indent=1))
        cmd = [str(SAM), "local", "invoke", self.template.function, "--template", str(self.template.path),
               "--event", str(event_file), "--env-vars", str(env_file), "--skip-pull-image", "--region", region,
               "--config-file", str(ROOT / "samconfig.toml"), *os.environ.get("SAM_LOCAL_FLAGS", "").split()]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env(region), timeout=900)
        seconds = time.monotonic() - started
        self.timings.append((label, seconds))
        response = None
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        with contextlib.suppress(ValueError, IndexError):
            response = json.loads(lines[-1])
        if proc.returncode != 0 and response is None:
            raise SamLocalError(f"sam local invoke exited {proc.returncode}: {last_line(proc.stderr)}")
        return Invocation(response, proc.stderr, seconds)


@contextlib.contextmanager
def session(binary, endpoint, extra_vars):
    """Everything SAM invocations against moto at `endpoint` need: engine, image, route, local
    template declaring AWS_ENDPOINT_URL and `extra_vars`. Yields a Sam."""
    arch = lambda_arch()
    with engine() as eng:
        how = ensure_image(eng, arch)
        say(f"engine {eng.kind}, image {base_image(arch)} ({how})")
        template = local_template(binary, arch, ["AWS_ENDPOINT_URL", *extra_vars])
        if template.added:
            say(f"declared for the local run only: {', '.join(template.added)}")
        with route_to_host(eng, urlparse(endpoint).port) as inside:
            yield Sam(eng, template, endpoint, inside)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def cmd_check(_args):
    deps()
    with engine() as eng:
        ensure_image(eng, lambda_arch())
        check_container(eng, lambda_arch())


def cmd_invoke(args):
    """`make sam-local`: exits as the CLI would on the same report (the Makefile shows 3 as
    non-compliance, not as an error)."""
    sample = local.read_event(args.event)
    with local.emulator() as endpoint:
        event = local.seed_for_event(endpoint, sample)
        region = local.stack_region(event)
        stand_ins, _queue = local.stack_stand_ins(endpoint, region)
        settings = {**stand_ins, **local.settings_for_event(event),
                    **{k: v for k, v in os.environ.items() if k.startswith("GUARD_")}}
        buckets = [(s.bucket, s.account) for s in local.buckets_for_event(event)]
        before = {b: local.bucket_state(endpoint, *b) for b in buckets}
        with session(args.binary, endpoint, settings) as sam:
            print(f"$ sam local invoke {sam.template.function} -t {os.path.relpath(sam.template.path)} "
                  f"-e {args.event} --env-vars {os.path.relpath(WORK / 'env-vars.json')} --skip-pull-image")
            print(f"  (engine {sam.eng.kind}; moto at {endpoint}, reached from the container at {sam.inside})")
            print(json.dumps(sam.variables(settings), indent=2))
            invocation = sam.invoke(event, settings, region)
        print(invocation.logs, end="", file=sys.stderr)
        print("--- response ---")
        print(json.dumps(invocation.response, indent=2))
        for bucket, account in buckets:
            local.show(f"bucket {bucket} before", before[bucket, account])
            local.show(f"bucket {bucket} after (read back from the emulator)", local.bucket_state(endpoint, bucket, account))
        print(f"sam local invoke took {invocation.seconds:.1f} s")
        report = invocation.report()
        if report is None:
            sys.exit("sam-local: the function returned no report (see SAM's output above)")
        code = 1 if invocation.error else local.report_exit_code(report)
        print(f"({local.outcome(code)})")
    print(f"rerun: make sam-local EVENT={args.event}")
    sys.exit(code)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("deps")
    sub.add_parser("check")
    i = sub.add_parser("invoke")
    i.add_argument("--binary", required=True)
    i.add_argument("--event", required=True)
    args = parser.parse_args()
    try:
        {"deps": lambda _: deps(), "check": cmd_check, "invoke": cmd_invoke}[args.command](args)
    except SamLocalError as e:
        say(str(e))
        sys.exit(2)


if __name__ == "__main__":
    main()
