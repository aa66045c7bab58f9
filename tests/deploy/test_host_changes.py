"""What `make test` changes on the host: the README's first screen says it (every apt package the
Makefile and scripts/sam_local.py install, iptables, the sysctl, how to skip), and the suite's
undo puts the network back as it found it (the plan is pure and tested here; the commands run
at the end of each SAM local session)."""

from __future__ import annotations

import re
import sys

from cfn import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import sam_local  # noqa: E402


def first_screen() -> str:
    """The README's first 45 lines: what a reader sees before scrolling."""
    return "\n".join((ROOT / "README.md").read_text().splitlines()[:45])


def apt_packages() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    from_make = set(re.findall(r"apt-get install -y -q (\S+?)\)", makefile))
    assert from_make, "the Makefile's apt-get install line moved: update this test"
    return from_make | set(sam_local.APT_PACKAGES.values())


def test_the_readme_first_screen_says_what_the_suite_changes_on_the_host() -> None:
    screen = first_screen()
    for word in ["apt-get", "as root", "iptables", "route_localnet", "SAM_LOCAL=skip", "make sam-clean",
                 *sorted(apt_packages())]:
        assert word in screen, f"the README's first screen does not mention {word!r}"
    assert "need only Rust, Python 3 and loopback" not in screen


BEFORE = {
    "rules": {"filter": ["-P INPUT ACCEPT", "-P FORWARD ACCEPT"],
              "nat": ["-P PREROUTING ACCEPT", "-A PREROUTING -j KEEP-ME"]},
    "interfaces": ["eth0", "lo"],
    "route_localnet": {"eth0": "0", "lo": "0"},
}
AFTER_A_SESSION = {
    "rules": {"filter": ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-N CNI-FORWARD",
                         '-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD'],
              "nat": ["-P PREROUTING ACCEPT", "-A PREROUTING -j KEEP-ME", "-N CNI-HOSTPORT-DNAT",
                      "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"]},
    "interfaces": ["cni-podman0", "docker1", "eth0", "lo"],
    "route_localnet": {"cni-podman0": "1", "docker1": "0", "eth0": "1", "lo": "0"},
}


def test_the_undo_removes_what_the_session_added_and_nothing_else() -> None:
    plan = sam_local.undo_plan(BEFORE, AFTER_A_SESSION)
    assert plan == [
        ["iptables", "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules",
         "-j", "CNI-FORWARD"],
        ["iptables", "-t", "filter", "-F", "CNI-FORWARD"],
        ["iptables", "-t", "filter", "-X", "CNI-FORWARD"],
        ["iptables", "-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
         "CNI-HOSTPORT-DNAT"],
        ["iptables", "-t", "nat", "-F", "CNI-HOSTPORT-DNAT"],
        ["iptables", "-t", "nat", "-X", "CNI-HOSTPORT-DNAT"],
        # podman's bridge goes (its route_localnet with it); another new interface is not ours.
        ["ip", "link", "delete", "cni-podman0"],
        ["sysctl", "-q", "-w", "net.ipv4.conf.eth0.route_localnet=0"],
    ]


def test_nothing_to_undo_when_the_host_is_as_it_was() -> None:
    assert sam_local.undo_plan(BEFORE, BEFORE) == []
    # A host the suite found already changed (a run of an older checkout) is left so.
    assert sam_local.undo_plan(AFTER_A_SESSION, AFTER_A_SESSION) == []
