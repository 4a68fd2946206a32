"""Whether a share sits on a network file system or a local disk, from the kernel's mount table.

Discovery keeps many listings in flight only where they wait on a server (see discovery.Pace). Timing
the first calls tells that on a quiet process, but inside a Prefect worker the other threads take the
GIL in turns, and a local disk's calls then also look like waits (measured: 8 calls of 1.3 ms alone,
57 ms with 14 context switches inside the flow). The file system type answers without timing: SMB, NFS
and FUSE file systems (sshfs, rclone, the benchmarks' slow share) wait on another machine or process;
ext4, xfs, btrfs, tmpfs and the like do not. Elsewhere (no /proc, an unknown type) it is None, and the
timing decides.
"""

from __future__ import annotations

import os

NETWORK = "network"
LOCAL = "local"

_NETWORK_TYPES = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "gpfs", "beegfs",
                  "afs", "davfs", "fuse"}  # and every "fuse.<daemon>" (sshfs, rclone, s3fs ...)
_LOCAL_TYPES = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "tmpfs", "ramfs",
                "overlay", "squashfs", "vfat", "exfat", "ntfs3", "apfs", "hfsplus"}


def _unescape(field: str) -> str:
    """A mountinfo path: spaces, tabs, newlines and backslashes are written as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_kind(path: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """:data:`NETWORK`, :data:`LOCAL`, or None (unknown) for the file system holding ``path``."""
    try:
        real = os.path.realpath(path)
        with open(mountinfo, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        before, sep, after = line.partition(" - ")
        fields = before.split()
        if not sep or len(fields) < 5 or not after:
            continue
        point = _unescape(fields[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):  # the deepest mount holding the path; a later one over it wins
            best, kind = point, after.split()[0]
    if kind is None:
        return None
    if kind in _NETWORK_TYPES or kind.startswith("fuse."):
        return NETWORK
    return LOCAL if kind in _LOCAL_TYPES else None
