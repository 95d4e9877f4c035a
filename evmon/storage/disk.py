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
    read_only: bool = False

    def __str__(self) -> str:
        what = self.device if self.device == self.kind else f"{self.device}, {self.kind}"
        return f"the disk at {self.mount} ({what})"


def disk_of(path: Path) -> Disk | None:
    """The disk holding `path` (or its nearest existing parent); None if it cannot be known."""
    existing = Path(os.path.realpath(path))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        stat = os.statvfs(existing)
    except OSError:
        return None
    blocks = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail  # root may use the reserved blocks
    mount, source, kind = _mounted(existing)
    return Disk(mount, source, kind, blocks * stat.f_frsize, bool(stat.f_flag & os.ST_RDONLY))


def _mounted(path: Path) -> tuple[Path, str, str]:
    """(mount point, device, file system type) of the mount holding `path`, from /proc/self/mounts: the
    longest mount point above it, the last one mounted there (a bind mount shares its device number)."""
    found: tuple[Path, str, str] = (Path("/"), "?", "?")
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = Path(_unescape(fields[1]))
                if (point == path or point in path.parents) and len(point.parts) >= len(found[0].parts):
                    found = (point, fields[0], fields[2])
    except OSError:
        pass
    return found


def _unescape(field: str) -> str:
    """/proc/mounts writes a space, tab, newline and backslash in octal (\\040)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def full_disk(path: Path, exc: BaseException | None = None) -> str | None:
    """Why a write on `path` failed, when its disk is why: 'the disk at /mnt (/dev/sdb1, ext4) is full: 12 KiB
    free', or '... is mounted read-only'; None when the disk has room and can be written."""
    disk = disk_of(path)
    if disk is None:
        return None
    if disk.read_only:
        return f"{disk} is mounted read-only"
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
