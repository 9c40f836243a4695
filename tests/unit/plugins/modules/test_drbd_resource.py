"""YAML cases for lvsha.cluster.drbd_resource (see module_cases.py for the case format).

Extra case keys understood here:

``proc_drbd``
    Fixture names under fixtures/drbd/ returned by successive reads of /proc/drbd; the
    last one repeats. ``null`` stands for "no /proc/drbd" (module not loaded).
``devices``
    Block devices the module may read: ``{PATH: {size: BYTES, md_index: internal,
    md_magic: 0x8374026b, fs: ext4|xfs}}``. Each becomes a sparse image in tmp_path with
    the meta-data magic written where drbdmeta puts the super block and the file system
    magic where mkfs puts it. Any other path raises FileNotFoundError.
``proc_reads``
    Number of /proc/drbd reads the module must make (optional).
``out_fixture`` (in a command step)
    Take the command's stdout from that file under fixtures/drbd/.
``progress_text``, ``slept``
    Expected ``progress.text`` of the result; total seconds slept while polling.
"""
from __future__ import annotations

import copy
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils import _drbd
from ansible_collections.lvsha.cluster.plugins.modules import drbd_resource

from module_cases import load_cases, run_case

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "drbd"

FS_MAGIC = {
    "ext4": (1080, b"\x53\xef"),
    "xfs": (0, b"XFSB"),
}


def make_image(path: Path, spec: dict[str, Any]) -> None:
    size = int(spec["size"])
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse
        if "md_magic" in spec:
            offset = _drbd.md_superblock_offset(size, spec.get("md_index", "internal"))
            handle.seek(offset + 60)
            handle.write(struct.pack(">I", int(spec["md_magic"])))
        if "fs" in spec:
            offset, magic = FS_MAGIC[spec["fs"]]
            handle.seek(offset)
            handle.write(magic)


class FakeHost:
    """Fixture-backed replacement for the methods of _drbd.HostIO."""

    def __init__(self, case: dict[str, Any], tmp_path: Path) -> None:
        self.proc = list(case.get("proc_drbd", [None]))
        self.proc_reads = 0
        self.clock = 1000.0
        self.sleeps: list[float] = []
        self.images: dict[str, Path] = {}
        for index, (device, spec) in enumerate(case.get("devices", {}).items()):
            image = tmp_path / f"device{index}.img"
            make_image(image, spec)
            self.images[device] = image

    def read_proc_drbd(self) -> str | None:
        self.proc_reads += 1
        name = self.proc.pop(0) if len(self.proc) > 1 else self.proc[0]
        return None if name is None else (FIXTURES / name).read_text()

    def open_device(self, path: str) -> BinaryIO:
        if path not in self.images:
            raise FileNotFoundError(2, "No such file or directory", path)
        return open(self.images[path], "rb", buffering=0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock += seconds

    def monotonic(self) -> float:
        return self.clock


def install(monkeypatch: pytest.MonkeyPatch, fake: FakeHost) -> None:
    monkeypatch.setattr(_drbd.HostIO, "read_proc_drbd", lambda host: fake.read_proc_drbd())
    monkeypatch.setattr(_drbd.HostIO, "open_device", lambda host, path: fake.open_device(path))
    monkeypatch.setattr(_drbd.HostIO, "sleep", lambda host, seconds: fake.sleep(seconds))
    monkeypatch.setattr(_drbd.HostIO, "monotonic", lambda host: fake.monotonic())


@pytest.mark.parametrize("case", load_cases(HERE / "test_drbd_resource.yaml"))
def test_drbd_resource(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    case = copy.deepcopy(case)
    for step in case.get("commands", []):
        if "out_fixture" in step:
            step["out"] = (FIXTURES / step.pop("out_fixture")).read_text()
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
