"""YAML cases for lvsha.cluster.drbd_resource (see module_cases.py for the case format).

Command steps take their output from recordings (``recorded: NAME``, see recordings.py)
or hand-written files (``out_file``) where nothing was recorded. Extra case keys
understood here:

``proc_drbd``
    Successive reads of /proc/drbd; the last one repeats. ``rec/NAME`` is the recorded
    fixtures/recorded/drbd/NAME.txt, a plain file name one under fixtures/drbd/ (hand-written,
    see its README.md), ``null`` stands for "no /proc/drbd" (module not loaded).
``devices``
    Block devices the module may read: ``{PATH: {size: BYTES|recorded, md_index: internal,
    md_superblock: recorded, md_magic: 0x8374026b, wipefs: NAME}}``. Each becomes a sparse
    image in tmp_path. ``size: recorded`` is the lab's /dev/vdb size; ``md_superblock:
    recorded`` writes the super block bytes recorded after ``drbdadm create-md`` where
    drbdmeta puts it; ``md_magic`` writes (or overwrites) only the magic; ``wipefs`` names
    the recorded ``wipefs --no-act --json`` of a device carrying that signature
    (fixtures/recorded/wipefs/NAME), which the device's probe answers (``blank`` without it). Any other path raises
    FileNotFoundError.
``proc_reads``
    Number of /proc/drbd reads the module must make (optional).
``progress_text``, ``slept``
    Expected ``progress.text`` of the result; total seconds slept while polling.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils import _drbd
from ansible_collections.lvsha.cluster.plugins.modules import drbd_resource

from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.module_cases import load_cases, run_case
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.recordings import (
    FIXTURES as ALL_FIXTURES,
    recorded_device_size,
    recorded_out,
    recorded_superblock,
    recording,
    resolve_case,
)

HERE = Path(__file__).parent
FIXTURES = ALL_FIXTURES / "drbd"


def make_image(path: Path, spec: dict[str, Any]) -> None:
    size = recorded_device_size() if spec["size"] == "recorded" else int(spec["size"])
    offset = _drbd.md_superblock_offset(size, spec.get("md_index", "internal"))
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse
        if spec.get("md_superblock") == "recorded":
            handle.seek(offset)
            handle.write(recorded_superblock())
        if "md_magic" in spec:
            handle.seek(offset + _drbd.MD_MAGIC_OFFSET)
            handle.write(struct.pack(">I", int(spec["md_magic"])))


def read_proc_fixture(name: str) -> str:
    if name.startswith("rec/"):
        return recorded_out("drbd", name[len("rec/"):])
    return (FIXTURES / name).read_text()


class FakeHost:
    """Fixture-backed replacement for the methods of _drbd.HostIO."""

    def __init__(self, case: dict[str, Any], tmp_path: Path) -> None:
        self.proc = list(case.get("proc_drbd", [None]))
        self.proc_reads = 0
        self.clock = 1000.0
        self.sleeps: list[float] = []
        self.images: dict[str, Path] = {}
        self.signatures: dict[str, str] = {}
        for index, (device, spec) in enumerate(case.get("devices", {}).items()):
            image = tmp_path / f"device{index}.img"
            make_image(image, spec)
            self.images[device] = image
            self.signatures[device] = spec.get("wipefs", "blank")

    def read_proc_drbd(self) -> str | None:
        self.proc_reads += 1
        name = self.proc.pop(0) if len(self.proc) > 1 else self.proc[0]
        return None if name is None else read_proc_fixture(name)

    def open_device(self, path: str) -> BinaryIO:
        if path not in self.images:
            raise FileNotFoundError(2, "No such file or directory", path)
        return open(self.images[path], "rb", buffering=0)

    def list_signatures(self, path: str) -> tuple[int, str, str]:
        rec = recording("wipefs", self.signatures[path])
        return rec.rc, rec.out, rec.err

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock += seconds

    def monotonic(self) -> float:
        return self.clock


def install(monkeypatch: pytest.MonkeyPatch, fake: FakeHost) -> None:
    monkeypatch.setattr(_drbd.HostIO, "read_proc_drbd", lambda host: fake.read_proc_drbd())
    monkeypatch.setattr(_drbd.HostIO, "open_device", lambda host, path: fake.open_device(path))
    monkeypatch.setattr(_drbd.HostIO, "list_signatures", lambda host, path: fake.list_signatures(path))
    monkeypatch.setattr(_drbd.HostIO, "sleep", lambda host, seconds: fake.sleep(seconds))
    monkeypatch.setattr(_drbd.HostIO, "monotonic", lambda host: fake.monotonic())


@pytest.mark.parametrize("case", load_cases(HERE / "test_drbd_resource.yaml"))
def test_drbd_resource(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    case = resolve_case(case, "drbd")
    fake = FakeHost(case, tmp_path)
    install(monkeypatch, fake)
    result = run_case(drbd_resource.main, case)
    if "proc_reads" in case:
        assert fake.proc_reads == case["proc_reads"]
    if "progress_text" in case:
        assert result["progress"]["text"] == case["progress_text"]
    if "slept" in case:
        assert sum(fake.sleeps) == case["slept"]


def test_fixture_images_match_probe(tmp_path: Path) -> None:
    """The fake images are read back by the real probe as the module would."""
    image = tmp_path / "disk.img"
    make_image(image, {"size": 64 << 20, "md_magic": _drbd.DRBD_MD_MAGIC_08})
    host = _drbd.HostIO()
    probe = _drbd.probe_device(host, str(image), "internal")
    assert probe.metadata == "v08"
    assert probe.filesystem is None
    assert os.path.getsize(image) == 64 << 20
    make_image(image, {"size": "recorded", "md_superblock": "recorded"})
    probe = _drbd.probe_device(host, str(image), "internal")
    assert (probe.size, probe.metadata) == (268435456, "v08")
    make_image(image, {"size": "recorded", "md_superblock": "recorded", "md_magic": _drbd.DRBD_MD_MAGIC_84_UNCLEAN})
    assert _drbd.probe_device(host, str(image), "internal").metadata == "v08 (unclean, activity log not applied)"
