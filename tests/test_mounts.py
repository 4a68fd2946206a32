"""The share's file system type from the kernel's mount table decides whether listings wait on a server."""

from __future__ import annotations

from pathlib import Path

from mass_ingest.discovery import Pace
from mass_ingest.mounts import LOCAL, NETWORK, mount_kind

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 253:1 / / rw,relatime - ext4 /dev/vda rw
40 27 0:50 / /mnt/lab rw,relatime - cifs //fs.lab/recordings rw,vers=3.1.1
41 40 0:51 / /mnt/lab/nfs\\040copy rw,relatime - nfs4 fs:/export rw
42 27 0:52 / /mnt/ssh rw - fuse.sshfs user@host: rw
43 27 0:53 / /mnt/odd rw - fuseblk /dev/sdb1 rw
44 27 0:54 / /scratch rw - tmpfs tmpfs rw
"""


def test_the_deepest_mount_holding_the_path_names_its_kind(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(MOUNTINFO)
    kinds = {path: mount_kind(path, str(table)) for path in
             ("/mnt/lab/N/recordings", "/mnt/lab/nfs copy/x", "/mnt/ssh/share", "/mnt/odd/share", "/scratch/a",
              "/home/x", "/mnt/lab", "/mnt/labx")}
    assert kinds == {"/mnt/lab/N/recordings": NETWORK, "/mnt/lab/nfs copy/x": NETWORK, "/mnt/ssh/share": NETWORK,
                     "/mnt/odd/share": None, "/scratch/a": LOCAL, "/home/x": LOCAL, "/mnt/lab": NETWORK,
                     "/mnt/labx": LOCAL}
    assert mount_kind("/x", str(tmp_path / "missing")) is None  # no mount table: the timing decides


def test_a_known_kind_decides_without_timing() -> None:
    pool = object()
    assert Pace(pool, NETWORK).decided and Pace(pool, NETWORK).pool is pool
    assert Pace(pool, LOCAL).decided and Pace(pool, LOCAL).pool is None
    assert not Pace(pool, None).decided  # unknown: the first calls are timed
