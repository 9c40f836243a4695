# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""labctl - a real-kernel QEMU lab for lvsha.cluster.

The machine's own kernel has neither IPVS nor DRBD, so every lab test runs in QEMU
guests booted from Debian's own kernel. Guests are copy-on-write overlays over one
cached base image; a booted topology is snapshotted (savevm) inside its overlays so a
later ``up`` restores it in seconds instead of booting under software emulation.

Networks (all on this machine):
  eth0  management: QEMU user networking with ``restrict=on`` (no route out), SSH
        forwarded from 127.0.0.1:PORT.
  eth1  segment "public"  - loopback multicast socket, 192.0.2.0/24
  eth2  segment "private" - loopback multicast socket, 198.51.100.0/24

Every process labctl starts is recorded with its PID under the run directory and
only those PIDs are ever signalled.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LVSHA_LAB_CACHE", Path.home() / ".cache" / "lvsha-lab"))
RUN_DIR = CACHE / "run"
DEFAULT_INVENTORY = REPO_ROOT / "inventories" / "lab" / "hosts.yml"
SNAPSHOT = "booted"
# The Debian releases a lab can run (suite: major version); LVSHA_LAB_RELEASE or --release
# chooses one, bookworm by default. Each has its own image and its own snapshots.
RELEASES = {"bookworm": "12", "trixie": "13"}
DEFAULT_RELEASE = "bookworm"
PACKAGE_VARS = REPO_ROOT / "roles" / "debian_packages" / "vars"

# A minimal Debian host with what the lab itself uses (SSH, Python for Ansible, the clients'
# curl and NFS mount, which needs netbase's /etc/protocols: "Failed to find 'tcp' protocol").
# The roles' packages are not installed: the roles install them, from the local repository
# that the image carries (LOCAL_REPO), so guests download nothing.
GUEST_PACKAGES = [
    "linux-image-amd64", "systemd-sysv", "udev", "kmod", "ifupdown", "iproute2",
    "openssh-server", "python3", "python3-apt", "procps", "iputils-ping", "curl",
    "e2fsprogs", "nfs-common", "netbase",
]
# The packages of the services that the example inventories have heartbeat start
# (inventories/example-mirror: rsync_mirror_service_packages).
EXAMPLE_SERVICE_PACKAGES = ["nginx-light"]
LOCAL_REPO = "/srv/lab-apt"
# Units that only cost boot time in a lab guest: timers, and what a guest never uses (DRM,
# debugfs, FUSE, binfmt, pstore, pNFS block layouts), and the first boot's catalogue, hwdb and
# ldconfig updates (the image's are current). Each costs seconds of the emulated CPU.
MASKED_UNITS = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer",
    "e2scrub_reap.service", "fstrim.timer", "getty@tty1.service", "systemd-timesyncd.service",
    "logrotate.timer", "dpkg-db-backup.timer", "remote-fs.target",
    "modprobe@drm.service", "modprobe@fuse.service", "modprobe@efi_pstore.service", "systemd-pstore.service",
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-fs-fuse-connections.mount", "dev-hugepages.mount",
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount", "getty-static.service", "nfs-blkmap.service",
    "systemd-journal-catalog-update.service", "systemd-hwdb-update.service", "ldconfig.service",
    "systemd-update-done.service",
]
# The initramfs holds only what mounts the root (the virtio PCI bus and disk, ext4) and the
# NICs that lab-identity addresses early in boot: Debian's default (MODULES=most) is a 37 MB
# initrd that the emulated CPU decompresses and probes at every boot. virtio_pci is a module
# in Debian 12's kernel (built in from Debian 13's): without it no virtio device appears.
INITRAMFS_MODULES = ["virtio_pci", "virtio_blk", "ext4", "virtio_net"]
# Units of the base packages that a lab guest does not need at boot (nfs-common's rpcbind:
# the NFS client starts it when it mounts).
DISABLED_UNITS = ["rpcbind.service", "rpcbind.socket"]
# Bump when the guest recipe changes in a way the lists above do not show.
RECIPE_REVISION = 2

SEGMENTS = {
    # name: (guest NIC of a node on every segment, multicast group, subnet prefix)
    "public": ("eth1", "230.0.0.1", "192.0.2"),
    "private": ("eth2", "230.0.0.2", "198.51.100"),
}
MGMT_NET = "203.0.113.0/24"
MGMT_GUEST = "203.0.113.15"
MGMT_HOST = "203.0.113.2"


@dataclass(frozen=True)
class Node:
    name: str
    groups: tuple[str, ...]
    host_id: int  # last octet on every segment
    segments: tuple[str, ...] = ("public", "private")
    memory_mb: int = 512
    extra_disk_mb: int = 0  # a blank second disk (/dev/vdb), e.g. DRBD backing

    def nic(self, segment: str) -> str:
        """The guest's name of its NIC on ``segment``: the kernel names NICs in PCI order
        (net.ifnames=0), so a node without a public NIC has its private one as eth1."""
        return f"eth{[name for name in SEGMENTS if name in self.segments].index(segment) + 1}"


@dataclass(frozen=True)
class Topology:
    name: str
    index: int  # keeps ports and multicast groups of topologies apart
    nodes: tuple[Node, ...]

    def ssh_port(self, node: Node) -> int:
        return 2200 + self.index * 20 + self.nodes.index(node) + 1

    def mcast_port(self, segment: str) -> int:
        return 41000 + self.index * 10 + list(SEGMENTS).index(segment)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LabError(f"topology {self.name} has no node {name!r} (nodes: {', '.join(n.name for n in self.nodes)})")


TOPOLOGIES = {
    t.name: t
    for t in (
        Topology("lvs", 1, (
            Node("lb1", ("directors",), 11),
            Node("lb2", ("directors",), 12),
            Node("web1", ("realservers",), 21),
            Node("web2", ("realservers",), 22),
            Node("client", ("clients",), 100, segments=("public",), memory_mb=384),
        )),
        Topology("storage", 2, (
            Node("nas1", ("storage",), 31, extra_disk_mb=256),
            Node("nas2", ("storage",), 32, extra_disk_mb=256),
            Node("nfsclient", ("clients",), 100, segments=("public",), memory_mb=384),
        )),
        Topology("mirror", 3, (
            Node("mr1", ("mirrors",), 41),
            Node("mr2", ("mirrors",), 42),
            Node("client", ("clients",), 100, segments=("public",), memory_mb=384),
        )),
        # The field guides' two-network NAT: the real servers only on the inside (private)
        # segment, behind the directors, which are their default route.
        Topology("nat", 4, (
            Node("lb1", ("directors",), 11),
            Node("lb2", ("directors",), 12),
            Node("web1", ("realservers",), 21, segments=("private",), memory_mb=384),
            Node("web2", ("realservers",), 22, segments=("private",), memory_mb=384),
            Node("client", ("clients",), 100, segments=("public",), memory_mb=384),
        )),
    )
}


class LabError(Exception):
    pass


# --------------------------------------------------------------------------- output
_T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[labctl {time.monotonic() - _T0:6.1f}s] {msg}", flush=True)


def run(argv: list[str], log: Path | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``log`` its output goes to that file and its tail is shown on failure."""
    if log is None:
        return subprocess.run(argv, check=True, text=True, **kw)
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, text=True, check=False, **kw)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-25:])
        raise LabError(f"{argv[0]} exited {proc.returncode}; last lines of {log}:\n{tail}")
    return proc


# --------------------------------------------------------------------------- releases
def release_of(name: str | None = None) -> str:
    """The release asked for (``name``, else LVSHA_LAB_RELEASE, else bookworm), checked."""
    release = name or os.environ.get("LVSHA_LAB_RELEASE") or DEFAULT_RELEASE
    if release not in RELEASES:
        raise LabError(f"release {release!r} is not one the lab builds ({', '.join(RELEASES)})")
    return release


def role_packages(release: str) -> list[str]:
    """What the roles install on this release (roles/debian_packages/vars/debian-MAJOR.yml, the
    roles' own list) and the examples' service packages: the image's local repository."""
    import yaml  # the venv's (labctl runs from the Makefile's PATH); only the image recipe needs it

    by_role = yaml.safe_load((PACKAGE_VARS / f"debian-{RELEASES[release]}.yml").read_text())["debian_packages__by_role"]
    return sorted({name for names in by_role.values() for name in names} | set(EXAMPLE_SERVICE_PACKAGES))


# --------------------------------------------------------------------------- image build
def host_debian_mirror() -> str:
    """The Debian mirror this machine's own apt uses (so the lab needs no other host); it
    serves every release."""
    candidates: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith("#"):
                    key, _sep, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            suites = fields.get("suites", "").split()
            if "deb" in fields.get("types", "") and set(RELEASES) & set(suites) and "main" in fields.get("components", ""):
                candidates += fields.get("uris", "").split()
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = [w for w in line.split() if not w.startswith("[")]
                if len(words) >= 4 and words[0] == "deb" and words[2] in RELEASES and "main" in words[3:]:
                    candidates.append(words[1])
    if not candidates:
        raise LabError(f"no Debian 'main' source of {' or '.join(RELEASES)} found in /etc/apt; the lab image is built from it")
    return candidates[0]


def ssh_key() -> Path:
    key = CACHE / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lvsha-lab", "-f", str(key)])
    return key


def recipe(release: str) -> dict[str, Any]:
    return {
        "suite": release,
        "packages": GUEST_PACKAGES,
        "repository": role_packages(release),
        "masked": MASKED_UNITS,
        "initramfs_modules": INITRAMFS_MODULES,
        "disabled": DISABLED_UNITS,
        "revision": RECIPE_REVISION,
        "guest_files": guest_files(),
    }


@functools.lru_cache(maxsize=None)
def image_dir(release: str) -> Path:
    digest = hashlib.sha256(json.dumps(recipe(release), sort_keys=True).encode()).hexdigest()[:16]
    return CACHE / "images" / digest


IDENTITY_SCRIPT = r"""#!/bin/sh
# Gives a lab guest its name and addresses from the kernel command line
# (lab.host=NAME lab.eth1=ADDR/PREFIX ...). Written by labctl.
set -e
for word in $(cat /proc/cmdline); do
  case "$word" in
    lab.host=*) name="${word#lab.host=}" ;;
    lab.eth[0-9]=*) spec="${word#lab.}"; dev="${spec%%=*}"; addr="${spec#*=}"
       ip link set "$dev" up; ip addr replace "$addr" dev "$dev" ;;
  esac
done
ip link set lo up
[ -n "$name" ] || exit 0
hostname "$name"
echo "$name" > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$name" > /etc/hosts
"""

IDENTITY_UNIT = """[Unit]
Description=lab guest identity from the kernel command line
DefaultDependencies=no
After=systemd-udev-settle.service systemd-udevd.service
Before=network-pre.target ssh.service heartbeat.service
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lab-identity
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""


def guest_files() -> dict[str, str]:
    """Files written into the guest root (path -> content); part of the recipe hash."""
    pub = (ssh_key().with_suffix(".pub")).read_text()
    return {
        "/usr/local/sbin/lab-identity": IDENTITY_SCRIPT,
        "/etc/systemd/system/lab-identity.service": IDENTITY_UNIT,
        "/root/.ssh/authorized_keys": pub,
        "/etc/fstab": "/dev/vda / ext4 rw,noatime,errors=remount-ro 0 1\n",
        "/etc/network/interfaces": "auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n",
        "/etc/modprobe.d/lab-blacklist.conf": "blacklist floppy\nblacklist pcspkr\n",
        "/etc/systemd/journald.conf.d/lab.conf": "[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n",
        # The segments loop every frame back to its sender; IPv6 duplicate address
        # detection would take that for a conflict.
        "/etc/sysctl.d/10-lab.conf": "net.ipv6.conf.all.accept_dad = 0\nnet.ipv6.conf.default.accept_dad = 0\n",
        "/etc/ssh/sshd_config.d/lab.conf": "UseDNS no\nPermitRootLogin prohibit-password\nMaxStartups 50:30:100\n",
        "/etc/systemd/system.conf.d/lab.conf": "[Manager]\nDefaultTimeoutStopSec=10s\n",
        # The roles install their packages in every scenario: under emulation a bookworm mirror
        # node took 6 min, half of it unpacking with an fsync per file and documentation that
        # no lab test reads. No power cut happens during an install.
        "/etc/dpkg/dpkg.cfg.d/lab-install": "force-unsafe-io\npath-exclude=/usr/share/doc/*\n"
                                            "path-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\n"
                                            "path-exclude=/usr/share/info/*\n",
    }


def cmd_build(args: argparse.Namespace) -> None:
    build_image(release_of(args.release), force=args.force)


def write_package_index(repo: Path) -> None:
    """A flat repository's Packages file: each .deb's control fields, file name, size and hash."""
    stanzas = []
    for deb in sorted(repo.glob("*.deb")):
        control = run(["dpkg-deb", "--field", str(deb)], capture_output=True).stdout.strip("\n")
        data = deb.read_bytes()
        stanzas.append(f"{control}\nFilename: ./{deb.name}\nSize: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\n")
    (repo / "Packages").write_text("\n".join(stanzas))


def build_image(release: str, force: bool = False) -> Path:
    target = image_dir(release)
    if (target / "ready").exists() and not force:
        say(f"image up to date: {target}")
        return target
    if os.geteuid() != 0:
        raise LabError("building the image needs root (debootstrap, chroot)")
    for tool in ("debootstrap", "qemu-img", "mkfs.ext4", "qemu-system-x86_64"):
        if not shutil.which(tool):
            raise LabError(f"{tool} not found: apt-get install qemu-system-x86 qemu-utils debootstrap e2fsprogs")
    work = target.with_name(target.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "build.log"
    rootfs = work / "rootfs"
    mirror = host_debian_mirror()
    started = time.monotonic()
    say(f"building guest image {target.name} (log: {log})")

    say(f"1/4 debootstrap {release} (minbase)")
    run(["debootstrap", "--variant=minbase", "--include=python3,iproute2,openssh-server,procps",
         release, str(rootfs), mirror], log=log)

    say(f"2/4 installing {len(GUEST_PACKAGES)} packages in the guest root")
    (rootfs / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")  # no daemons in the chroot
    (rootfs / "usr/sbin/policy-rc.d").chmod(0o755)
    (rootfs / "etc/apt/sources.list").write_text(f"deb {mirror} {release} main\n")
    mounts = []
    try:
        for fs in ("proc", "sys", "dev"):
            run(["mount", "--bind", f"/{fs}", str(rootfs / fs)])
            mounts.append(rootfs / fs)
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        run(["chroot", str(rootfs), "apt-get", "update"], log=log, env=env)
        run(["chroot", str(rootfs), "apt-get", "install", "-y", "--no-install-recommends", *GUEST_PACKAGES],
            log=log, env=env)
        run(["chroot", str(rootfs), "apt-get", "clean"], log=log, env=env)
        # The roles' packages and what they need beyond the base, as a repository in the guest:
        # the only source its apt has, so a role that forgets a package fails in the lab.
        packages = role_packages(release)
        say(f"   and {len(packages)} packages of the roles into the guest's repository {LOCAL_REPO}")
        run(["chroot", str(rootfs), "apt-get", "install", "-y", "--download-only", "--no-install-recommends",
             *packages], log=log, env=env)
        repo = rootfs / LOCAL_REPO.lstrip("/")
        repo.mkdir(parents=True)
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.rename(repo / deb.name)
        write_package_index(repo)
        (rootfs / "etc/apt/sources.list").write_text(f"deb [trusted=yes] file:{LOCAL_REPO} ./\n")
        run(["chroot", str(rootfs), "apt-get", "update"], log=log, env=env)

        say("3/4 configuring the guest")
        for path, content in guest_files().items():
            dest = rootfs / path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(content)
        (rootfs / "usr/local/sbin/lab-identity").chmod(0o755)
        (rootfs / "root/.ssh").chmod(0o700)
        (rootfs / "root/.ssh/authorized_keys").chmod(0o600)
        (rootfs / "etc/hostname").write_text("lab\n")
        run(["chroot", str(rootfs), "systemctl", "enable", "lab-identity.service"], log=log, env=env)
        run(["chroot", str(rootfs), "systemctl", "mask", *MASKED_UNITS], log=log, env=env)
        present = [u for u in DISABLED_UNITS if unit_exists(rootfs, u)]
        run(["chroot", str(rootfs), "systemctl", "disable", *present], log=log, env=env)
        run(["chroot", str(rootfs), "passwd", "-d", "root"], log=log, env=env)  # serial console login
        (rootfs / "etc/initramfs-tools/conf.d/lab.conf").write_text("MODULES=list\n")
        (rootfs / "etc/initramfs-tools/modules").write_text("".join(f"{m}\n" for m in INITRAMFS_MODULES))
        run(["chroot", str(rootfs), "update-initramfs", "-u", "-k", "all"], log=log, env=env)
    finally:
        for mnt in reversed(mounts):
            subprocess.run(["umount", "-l", str(mnt)], check=False)
    (rootfs / "usr/sbin/policy-rc.d").unlink()

    say("4/4 writing the disk image")
    boot = rootfs / "boot"
    kernel = sorted(boot.glob("vmlinuz-*"))[-1]
    initrd = sorted(boot.glob("initrd.img-*"))[-1]
    shutil.copy(kernel, work / "vmlinuz")
    shutil.copy(initrd, work / "initrd.img")
    raw = work / "base.raw"
    run(["mkfs.ext4", "-q", "-F", "-L", "lvsha-root", "-d", str(rootfs), str(raw), "3G"], log=log)
    run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(work / "base.qcow2")], log=log)
    raw.unlink()
    shutil.rmtree(rootfs)
    (work / "recipe.json").write_text(json.dumps(recipe(release), indent=2, sort_keys=True))
    (work / "ready").write_text(f"built in {time.monotonic() - started:.0f} s\n")
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    say(f"image ready in {time.monotonic() - started:.0f} s: {target}")
    return target


def unit_exists(rootfs: Path, unit: str) -> bool:
    return any((rootfs / d / unit).exists() for d in ("lib/systemd/system", "usr/lib/systemd/system", "etc/init.d"))


# --------------------------------------------------------------------------- QMP
class Qmp:
    """Minimal client for QEMU's machine protocol on a unix socket."""

    def __init__(self, path: Path, timeout: float = 120) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("r")
        json.loads(self.reader.readline())  # greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, **arguments: Any) -> Any:
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = json.loads(self.reader.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise LabError(f"QMP {command}: {reply['error'].get('desc')}")

    def hmp(self, line: str) -> str:
        out = self.execute("human-monitor-command", **{"command-line": line})
        return str(out)

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------- VMs
@dataclass
class Vm:
    topo: Topology
    node: Node
    release: str
    image: Path = field(init=False)
    state_dir: Path = field(init=False)
    run_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.image = image_dir(self.release)
        self.state_dir = CACHE / "labs" / self.release / self.topo.name
        self.run_dir = RUN_DIR / self.topo.name

    @property
    def overlay(self) -> Path:
        return self.state_dir / f"{self.node.name}.qcow2"

    @property
    def extra_disk(self) -> Path:
        return self.state_dir / f"{self.node.name}-data.qcow2"

    @property
    def meta_path(self) -> Path:
        return self.state_dir / f"{self.node.name}.json"

    @property
    def pid_path(self) -> Path:
        return self.run_dir / f"{self.node.name}.pid"

    @property
    def qmp_path(self) -> Path:
        return self.run_dir / f"{self.node.name}.qmp"

    @property
    def console_log(self) -> Path:
        return self.run_dir / f"{self.node.name}.console.log"

    @property
    def qemu_log(self) -> Path:
        return self.run_dir / f"{self.node.name}.qemu.log"

    @property
    def ssh_port(self) -> int:
        return self.topo.ssh_port(self.node)

    def address(self, segment: str) -> str:
        return f"{SEGMENTS[segment][2]}.{self.node.host_id}"

    def mac(self, nic: int) -> str:
        return f"52:54:00:{self.topo.index:02x}:{self.node.host_id:02x}:{nic:02x}"

    def argv(self, loadvm: bool) -> list[str]:
        append = ["console=ttyS0", "root=/dev/vda", "rw", "net.ifnames=0", "quiet", "mitigations=off",
                  "systemd.show_status=0", f"lab.host={self.node.name}",
                  f"lab.eth0={MGMT_GUEST}/24"]
        argv = [
            "qemu-system-x86_64", "-name", f"lvsha-{self.topo.name}-{self.node.name}",
            "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", str(self.node.memory_mb),
            "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", f"file:{self.console_log}",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            "-rtc", "base=utc",
            "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
            "-drive", f"file={self.overlay},if=virtio,format=qcow2",
            "-object", "rng-random,filename=/dev/urandom,id=rng0", "-device", "virtio-rng-pci,rng=rng0",
            "-netdev", (f"user,id=mgmt,restrict=on,ipv6=off,net={MGMT_NET},host={MGMT_HOST},dhcpstart={MGMT_GUEST},"
                        f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-{MGMT_GUEST}:22"),
            "-device", f"virtio-net-pci,netdev=mgmt,mac={self.mac(0)}",
        ]
        for segment, (nic, group, _prefix) in SEGMENTS.items():
            if segment not in self.node.segments:
                continue
            index = int(nic[-1])
            argv += ["-netdev", f"socket,id={segment},mcast={group}:{self.topo.mcast_port(segment)},localaddr=127.0.0.1",
                     "-device", f"virtio-net-pci,netdev={segment},mac={self.mac(index)}"]
            append.append(f"lab.{self.node.nic(segment)}={self.address(segment)}/24")
        if self.node.extra_disk_mb:
            argv += ["-drive", f"file={self.extra_disk},if=virtio,format=qcow2"]
        argv += ["-append", " ".join(append)]
        if loadvm:
            argv += ["-loadvm", SNAPSHOT]
        return argv

    def signature(self) -> str:
        """What a snapshot depends on: the base image and the machine's shape."""
        return hashlib.sha256(json.dumps([str(self.image), self.argv(False)]).encode()).hexdigest()

    def has_snapshot(self) -> bool:
        if not (self.overlay.exists() and self.meta_path.exists()):
            return False
        meta = json.loads(self.meta_path.read_text())
        if meta.get("signature") != self.signature():
            return False
        out = subprocess.run(["qemu-img", "snapshot", "-l", "-U", str(self.overlay)],
                             capture_output=True, text=True, check=False).stdout
        return any(line.split()[1:2] == [SNAPSHOT] for line in out.splitlines())

    def create_disks(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.overlay.unlink(missing_ok=True)
        self.meta_path.unlink(missing_ok=True)
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(self.image / "base.qcow2"),
             str(self.overlay)])
        if self.node.extra_disk_mb:
            self.extra_disk.unlink(missing_ok=True)
            run(["qemu-img", "create", "-q", "-f", "qcow2", str(self.extra_disk), f"{self.node.extra_disk_mb}M"])

    # -- process
    def pid(self) -> int | None:
        """PID of this VM's QEMU if it is the process we started and still runs."""
        try:
            pid = int(self.pid_path.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.overlay).encode() in cmdline else None

    def start(self, loadvm: bool) -> None:
        if self.pid():
            raise LabError(f"{self.node.name} is already running (pid {self.pid()})")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.qmp_path.unlink(missing_ok=True)
        with self.qemu_log.open("ab") as log:
            proc = subprocess.Popen(self.argv(loadvm), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log, start_new_session=True, preexec_fn=on_every_cpu)
        self.pid_path.write_text(str(proc.pid))
        # pid() recognises QEMU by its command line, which exists only once exec has happened.
        deadline = time.monotonic() + 10
        while self.pid() is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{self.node.name}: QEMU did not start: "
                               f"{self.qemu_log.read_text(errors='replace').strip()[-500:]}")
            time.sleep(0.01)

    def kill(self) -> int | None:
        """Pull the plug: SIGKILL the QEMU process we started; returns its PID."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        return pid

    def qmp(self) -> Qmp:
        deadline = time.monotonic() + 30
        while True:
            try:
                return Qmp(self.qmp_path)
            except OSError:
                if time.monotonic() > deadline or not self.pid():
                    raise LabError(f"{self.node.name}: QEMU monitor not reachable; see {self.console_log}")
                time.sleep(0.2)

    # -- guest access
    def ssh_argv(self, *command: str, batch: bool = True) -> list[str]:
        argv = ["ssh", "-q", "-i", str(ssh_key()), "-p", str(self.ssh_port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]
        if batch:
            argv += ["-o", "BatchMode=yes"]
        return [*argv, "root@127.0.0.1", *command]

    def ssh_ok(self) -> bool:
        proc = subprocess.run(self.ssh_argv("true"), stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                              check=False)
        return proc.returncode == 0


def on_every_cpu() -> None:
    """Lets a guest run on every CPU of the machine, whatever its caller's affinity. Mitogen for
    Ansible pins its processes to one CPU each, and molecule's create runs `labctl up` from
    one of them: guests that inherit that pin share one core while the other idles (two
    booting guests at 47% CPU each, the machine half idle)."""
    os.sched_setaffinity(0, range(os.cpu_count() or 1))


def wait_gone(pids: Iterable[int | None], timeout: float = 30) -> None:
    """Wait until killed QEMU processes have released their disks."""
    deadline = time.monotonic() + timeout
    for pid in [p for p in pids if p]:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)  # reaps it when it is our own child
            except ChildProcessError:
                pass
            time.sleep(0.05)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.settimeout(2)
            return sock.recv(4).startswith(b"SSH")
    except OSError:
        return False


def answers_ssh(vm: Vm) -> bool:
    """Whether a starting guest answers SSH yet; LabError when its QEMU has exited."""
    if vm.pid() is None:
        raise LabError(f"{vm.node.name}: QEMU exited: {vm.qemu_log.read_text(errors='replace').strip()[-500:]}")
    return port_answers(vm.ssh_port) and vm.ssh_ok()


def wait_ssh(vms: Iterable[Vm], timeout: float) -> None:
    pending = list(vms)
    deadline = time.monotonic() + timeout
    while pending:
        for vm in list(pending):
            if answers_ssh(vm):
                say(f"  {vm.node.name} answers SSH on 127.0.0.1:{vm.ssh_port}")
                pending.remove(vm)
        if pending and time.monotonic() > deadline:
            raise LabError(f"no SSH from {', '.join(v.node.name for v in pending)} after {timeout:.0f} s; "
                           f"see {pending[0].console_log}")
        if pending:
            time.sleep(1)


def set_guest_clocks(vms: Iterable[Vm]) -> None:
    """A restored snapshot resumes with the clock of the moment it was taken."""
    procs = [subprocess.Popen(vm.ssh_argv("date", "-s", f"@{time.time():.3f}"), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for vm in vms]
    for proc in procs:
        proc.wait(timeout=60)


# --------------------------------------------------------------------------- lab state
def running_lab() -> tuple[str, str] | None:
    """The topology and release of the guests that run, if any do."""
    if not RUN_DIR.is_dir():
        return None
    for name in sorted(p.name for p in RUN_DIR.iterdir() if p.is_dir()):
        for release in RELEASES if name in TOPOLOGIES else ():
            if any(vm.pid() for vm in vms_of(TOPOLOGIES[name], release)):
                return name, release
    return None


def vms_of(topo: Topology, release: str) -> list[Vm]:
    return [Vm(topo, node, release) for node in topo.nodes]


def current_vms(node: str | None = None) -> list[Vm]:
    lab = running_lab() or _last_lab()
    if lab is None:
        raise LabError("no lab is up: run `labctl up TOPOLOGY` first")
    name, release = lab
    vms = vms_of(TOPOLOGIES[name], release)
    if node is None:
        return vms
    TOPOLOGIES[name].node(node)  # raises with the valid names
    return [vm for vm in vms if vm.node.name == node]


def _last_lab() -> tuple[str, str] | None:
    marker = RUN_DIR / "current"
    words = marker.read_text().split() if marker.exists() else []
    return (words[0], release_of(words[1])) if len(words) == 2 and words[0] in TOPOLOGIES else None


# heartbeat's timings for guests under software emulation, where five guests share two cores:
# during a converge lb1 logged a heartbeat from lb2 1,670 ms late at a 500 ms keepalive, and
# dispatches delayed by 850 ms, so the role's 2 s deadtime left a third of a second before a
# false failover. 5 s is three times the latest heartbeat seen; failovers take 3 s longer.
EMULATED_HEARTBEAT = {"heartbeat_warntime": 2, "heartbeat_deadtime": 5}


def write_inventory(topo: Topology, release: str, path: Path) -> None:
    key = ssh_key()
    groups: dict[str, dict[str, Any]] = {}
    for vm in vms_of(topo, release):
        host: dict[str, Any] = {"ansible_host": "127.0.0.1", "ansible_port": vm.ssh_port}
        for segment in vm.node.segments:
            host[f"lvsha_{segment}_address"] = vm.address(segment)
            if vm.node.nic(segment) != SEGMENTS[segment][0]:
                host[f"lvsha_{segment}_interface"] = vm.node.nic(segment)
        for group in vm.node.groups:
            groups.setdefault(group, {"hosts": {}})["hosts"][vm.node.name] = host
    inventory = {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                       "-o ControlMaster=auto -o ControlPersist=300s",
            "ansible_ssh_pipelining": True,
            "lab_topology": topo.name,
            "lab_release": release,
            "lvsha_public_interface": SEGMENTS["public"][0],
            "lvsha_private_interface": SEGMENTS["private"][0],
            "lab_public_cidr": f"{SEGMENTS['public'][2]}.0/24",
            "lab_private_cidr": f"{SEGMENTS['private'][2]}.0/24",
            **EMULATED_HEARTBEAT,
        },
        "children": groups,
    }}
    path.parent.mkdir(parents=True, exist_ok=True)
    # JSON is valid YAML and needs no third-party module here.
    path.write_text("# Generated by tests/lab/labctl for the running lab; do not edit.\n"
                    + json.dumps(inventory, indent=2) + "\n")


# --------------------------------------------------------------------------- verbs
def cmd_up(args: argparse.Namespace) -> None:
    topo = TOPOLOGIES[args.topology]
    release = release_of(args.release)
    running = running_lab()
    if running and running != (topo.name, release):
        raise LabError(f"lab {' on '.join(running)} is up; run `labctl down` first (one lab at a time on this machine)")
    started = time.monotonic()
    build_image(release)
    vms = vms_of(topo, release)
    if all(vm.pid() for vm in vms):
        say(f"lab {topo.name} ({release}) is already up")
    else:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        (RUN_DIR / "current").write_text(f"{topo.name} {release}\n")
        warm = [vm for vm in vms if not vm.pid() and not args.cold and vm.has_snapshot()]
        cold = [vm for vm in vms if not vm.pid() and vm not in warm]
        for vm in warm:
            say(f"{vm.node.name}: restoring snapshot '{SNAPSHOT}'")
            vm.start(loadvm=True)
        wait_ssh(warm, timeout=120)
        if warm:
            set_guest_clocks(warm)
        boot_cold(cold, timeout=600)
    write_inventory(topo, release, Path(args.inventory))
    say(f"lab {topo.name} ({release}) up in {time.monotonic() - started:.1f} s; inventory: {args.inventory}")


# Cold boots under software emulation are CPU-bound: more guests booting than cores only share
# the cores out.
COLD_BOOTS_AT_ONCE = max(1, os.cpu_count() or 1)


def boot_cold(vms: Iterable[Vm], timeout: float) -> None:
    """Boot ``vms`` from fresh overlays, COLD_BOOTS_AT_ONCE at a time, each snapshotted once it
    answers SSH; ``timeout`` is per guest."""
    waiting, booting = list(vms), {}
    while waiting or booting:
        while waiting and len(booting) < COLD_BOOTS_AT_ONCE:
            vm = waiting.pop(0)
            say(f"{vm.node.name}: cold boot from a fresh overlay")
            vm.create_disks()
            vm.start(loadvm=False)
            booting[vm.node.name] = (vm, time.monotonic())
        for name, (vm, started) in list(booting.items()):
            if answers_ssh(vm):
                say(f"  {name} answers SSH on 127.0.0.1:{vm.ssh_port} ({time.monotonic() - started:.0f} s after its start)")
                snapshot(vm)
                del booting[name]
            elif time.monotonic() - started > timeout:
                raise LabError(f"no SSH from {name} {timeout:.0f} s after its start; see {vm.console_log}")
        if booting:
            time.sleep(1)


def snapshot(vm: Vm) -> None:
    # Let the guest settle so the snapshot holds a quiet system.
    subprocess.run(vm.ssh_argv("sync"), stdin=subprocess.DEVNULL, check=False, timeout=60)
    t0 = time.monotonic()
    qmp = vm.qmp()
    try:
        out = qmp.hmp(f"savevm {SNAPSHOT}")
    finally:
        qmp.close()
    if out.strip():
        raise LabError(f"{vm.node.name}: savevm said: {out.strip()}")
    vm.meta_path.write_text(json.dumps({"signature": vm.signature(), "saved": time.time()}))
    say(f"  {vm.node.name}: snapshot '{SNAPSHOT}' saved in {time.monotonic() - t0:.1f} s")


def cmd_down(args: argparse.Namespace) -> None:
    killed = {vm.node.name: vm.kill() for vm in current_vms()}
    wait_gone(killed.values())
    for name, pid in killed.items():
        if pid:
            say(f"{name}: stopped (pid {pid})")
    (RUN_DIR / "current").unlink(missing_ok=True)


def cmd_status(args: argparse.Namespace) -> None:
    try:
        vms = current_vms()
    except LabError as exc:
        print(exc)
        return
    print(f"topology {vms[0].topo.name}")
    for vm in vms:
        pid = vm.pid()
        state = "running" if pid else "off"
        ssh = "ssh ok" if pid and port_answers(vm.ssh_port) else "-"
        print(f"  {vm.node.name:10} {state:8} pid={pid or '-':<8} ssh=127.0.0.1:{vm.ssh_port} {ssh:7} "
              + " ".join(f"{segment}={vm.address(segment)}" for segment in vm.node.segments))


def cmd_kill(args: argparse.Namespace) -> None:
    (vm,) = current_vms(args.node)
    pid = vm.kill()
    if pid is None:
        raise LabError(f"{args.node} is not running")
    wait_gone([pid])
    say(f"{args.node}: powered off")


def cmd_start(args: argparse.Namespace) -> None:
    """Power a node on again: a real boot from its disk as it is now, like a server coming back."""
    (vm,) = current_vms(args.node)
    if vm.pid():
        say(f"{args.node} is already running")
        return
    started = time.monotonic()
    vm.start(loadvm=False)
    if args.wait:
        wait_ssh([vm], timeout=args.timeout)
        say(f"{args.node}: booted in {time.monotonic() - started:.1f} s")


def cmd_ssh(args: argparse.Namespace) -> None:
    (vm,) = current_vms(args.node)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    # One argument is a shell line for the guest; several are quoted word by word.
    remote = command if len(command) <= 1 else [shlex.join(command)]
    os.execvp("ssh", vm.ssh_argv(*remote, batch=bool(remote)))


def cmd_link(args: argparse.Namespace) -> None:
    (vm,) = current_vms(args.node)
    if args.segment not in vm.node.segments:
        raise LabError(f"{args.node} has no NIC on segment {args.segment!r}")
    qmp = vm.qmp()
    try:
        qmp.execute("set_link", name=args.segment, up=args.state == "up")
    finally:
        qmp.close()
    say(f"{args.node}: {vm.node.nic(args.segment)} ({args.segment}) link {args.state}")


def cmd_inventory(args: argparse.Namespace) -> None:
    write_inventory(TOPOLOGIES[args.topology], release_of(args.release), Path(args.inventory))
    print(args.inventory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    release_help = f"the guests' Debian release: {', '.join(RELEASES)} (default: LVSHA_LAB_RELEASE, else {DEFAULT_RELEASE})"
    p = sub.add_parser("build", help="build or reuse the cached guest image of a release (keyed by its recipe)")
    p.add_argument("--force", action="store_true", help="rebuild even if an image with this recipe exists")
    p.add_argument("--release", choices=sorted(RELEASES), help=release_help)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("up", help="boot a topology (restoring its snapshot when one exists) and write its inventory",
                       description="Topologies: " + "; ".join(
                           f"{t.name} = {', '.join(n.name for n in t.nodes)}" for t in TOPOLOGIES.values()))
    p.add_argument("topology", choices=sorted(TOPOLOGIES))
    p.add_argument("--cold", action="store_true", help="ignore snapshots: fresh overlays, cold boot, new snapshot")
    p.add_argument("--release", choices=sorted(RELEASES), help=release_help)
    p.add_argument("--inventory", default=str(DEFAULT_INVENTORY), help="where to write the Ansible inventory")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="power off every guest of the running lab (snapshots are kept)")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="show the guests of the lab, their PIDs and SSH ports")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("kill", help="power a guest off abruptly, as if its plug were pulled")
    p.add_argument("node")
    p.set_defaults(func=cmd_kill)

    p = sub.add_parser("start", help="power a guest on again: a real boot from its current disk")
    p.add_argument("node")
    p.add_argument("--no-wait", dest="wait", action="store_false", help="do not wait for SSH")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for SSH (default 600)")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("ssh", help="open a shell on a guest, or run `labctl ssh NODE -- CMD [ARG...]` "
                                   "(one argument: a shell line; several: quoted word by word)")
    p.add_argument("node")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_ssh)

    p = sub.add_parser("link", help="cut or restore one NIC of a guest: `labctl link NODE public|private down|up`")
    p.add_argument("node")
    p.add_argument("segment", choices=sorted(SEGMENTS))
    p.add_argument("state", choices=["down", "up"])
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("inventory", help="(re)write the Ansible inventory of a topology")
    p.add_argument("topology", choices=sorted(TOPOLOGIES))
    p.add_argument("--release", choices=sorted(RELEASES), help=release_help)
    p.add_argument("--inventory", default=str(DEFAULT_INVENTORY))
    p.set_defaults(func=cmd_inventory)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except LabError as exc:
        print(f"labctl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
