"""The disk a path is on, in words: its mount point, device and free space (for one-line messages).

SQLite reports a full disk as "disk I/O error" (its WAL index cannot grow) or "database or disk
is full"; neither says which disk. `full_disk` names it when the disk is (nearly) full.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

NEARLY_FULL = 1024 * 1024  # less free than this, after a failed write: the disk is the reason
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class Disk:
    """Where a path lives: the mount point, what is mounted there, and the bytes this process may still use."""

    mount: Path
    device: str
    kind: str
    free: int

    def __str__(self) -> str:
        what = self.device if self.device == self.kind else f"{self.device}, {self.kind}"
        return f"the disk at {self.mount} ({what})"


def disk_of(path: Path) -> Disk | None:
    """The disk holding `path` (or its nearest existing parent); None if it cannot be known."""
    existing = Path(os.path.abspath(path))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        stat = os.statvfs(existing)
        device = existing.stat().st_dev
        mount = existing
        while mount != mount.parent and mount.parent.stat().st_dev == device:
            mount = mount.parent
    except OSError:
        return None
    blocks = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail  # root may use the reserved blocks
    source, kind = _mounted(mount)
    return Disk(mount, source, kind, blocks * stat.f_frsize)


def _mounted(mount: Path) -> tuple[str, str]:
    """(device, file system type) of the mount point, from /proc/self/mounts; ("?", "?") elsewhere."""
    found = ("?", "?")
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) >= 3 and _unescape(fields[1]) == str(mount):
                    found = (fields[0], fields[2])  # the last one mounted there is the one seen
    except OSError:
        pass
    return found


def _unescape(field: str) -> str:
    """/proc/mounts writes a space, tab, newline and backslash in octal (\\040)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def full_disk(path: Path, exc: BaseException | None = None) -> str | None:
    """'the disk at /mnt (/dev/sdb1, ext4) is full: 12 KiB free' when a failed write on `path` is a full disk."""
    disk = disk_of(path)
    if disk is None:
        return None
    said_full = isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS
    if not said_full and disk.free >= NEARLY_FULL:
        return None
    return f"{disk} is full: {_size(disk.free)} free"


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count // 1024} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
