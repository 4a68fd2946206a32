"""A share as a network mount serves it: a read-only FUSE passthrough that waits before each answer.

Every operation the kernel sends (lookup/getattr, opendir, readdir, open, read, readlink, close)
sleeps ``delay`` seconds before it is done on the real tree, as an SMB or NFS server's round
trip would. The daemon is multi-threaded (the sleeps overlap, as a file server answers many
requests at once), listings carry each entry's type (as SMB and NFS listings do), and the kernel
keeps names and attributes for 1 s (libfuse's default, about what SMB and NFS clients cache).

Used by ``benchmarks/network_share.py``::

    with mounted(tree, mountpoint, delay_s=0.001) as share:
        ...  # share is the mount point; everything below it answers after 1 ms

The same server is written twice: ``slow_share.c`` (built here with gcc where libfuse3's headers are
installed, Debian's ``libfuse3-dev``) and this module's mfusepy passthrough, used where it cannot be
built. The C one is preferred: a file server answers on its own CPUs, while a Python daemon takes
~0.15 ms of CPU per request from the two cores the measured discovery runs on. :func:`server` says
which one a mount uses.

:func:`unavailable` says why FUSE cannot be used here (no /dev/fuse, no fusermount3, no libfuse,
no mfusepy), or None.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_FIELDS = ("st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime",
           "st_blocks", "st_blksize")
_READ_ONLY = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def unavailable() -> str | None:
    """Why a FUSE share cannot be mounted here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist (a container without the FUSE device)"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (Debian: apt-get install fuse3)"
    try:
        import mfusepy  # noqa: F401  (loads libfuse3 when imported)
    except (ImportError, OSError, EnvironmentError) as exc:
        return f"the FUSE binding cannot be loaded ({exc}); pip install mfusepy, apt-get install fuse3"
    return None


_C_SOURCE = Path(__file__).with_suffix(".c")


def c_server() -> Path | None:
    """The C server built from ``slow_share.c`` (cached by the source's hash), or None where it cannot be built."""
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        return None
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"], capture_output=True, text=True)
    if flags.returncode != 0:
        return None
    digest = hashlib.sha256(_C_SOURCE.read_bytes() + flags.stdout.encode()).hexdigest()[:12]
    binary = Path(os.environ.get("TMPDIR", "/tmp")) / f"mass-ingest-slow-share-{digest}"
    if not binary.exists():
        built = subprocess.run(["gcc", "-O2", "-Wall", "-o", f"{binary}.part", str(_C_SOURCE), *flags.stdout.split()],
                               capture_output=True, text=True)
        if built.returncode != 0:
            print(f"slow_share.c did not build, using the Python server: {built.stderr[-500:]}", file=sys.stderr)
            return None
        os.replace(f"{binary}.part", binary)
    return binary


def server() -> str:
    """Which server :func:`mounted` starts: 'C (libfuse3)' or 'Python (mfusepy)'."""
    return "C (libfuse3)" if c_server() else "Python (mfusepy)"


def _operations(root: str, delay_s: float):
    import mfusepy

    class SlowPassthrough(mfusepy.Operations):
        """Read-only passthrough of ``root``; each answer after ``delay_s``."""

        use_ns = True

        def _real(self, path: str) -> str:
            time.sleep(delay_s)  # the server's round trip; releases the GIL like the network wait
            return root + path

        @staticmethod
        def _call(function, *args):
            try:
                return function(*args)
            except OSError as exc:
                raise mfusepy.FuseOSError(exc.errno or errno.EIO) from None

        def getattr(self, path: str, fh: int | None = None) -> dict:
            st = self._call(os.lstat, self._real(path))
            attrs = {key: getattr(st, key) for key in _FIELDS if not key.endswith("time")}
            attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
            return attrs

        def readdir(self, path: str, fh: int):
            def kind(entry: os.DirEntry) -> int:
                if entry.is_symlink():
                    return stat.S_IFLNK
                if entry.is_dir(follow_symlinks=False):
                    return stat.S_IFDIR
                return stat.S_IFREG if entry.is_file(follow_symlinks=False) else 0

            with self._call(os.scandir, self._real(path)) as entries:
                listed = [(entry.name, {"st_mode": kind(entry)}, 0) for entry in entries]
            return [(".", {"st_mode": stat.S_IFDIR}, 0), ("..", {"st_mode": stat.S_IFDIR}, 0), *listed]

        def opendir(self, path: str) -> int:
            self._call(os.stat, self._real(path))
            return 0

        def releasedir(self, path: str, fh: int) -> int:
            return 0

        def readlink(self, path: str) -> str:
            return self._call(os.readlink, self._real(path))

        def open(self, path: str, flags: int) -> int:
            if flags & (os.O_WRONLY | os.O_RDWR):
                raise mfusepy.FuseOSError(errno.EROFS)
            return self._call(os.open, self._real(path), _READ_ONLY)

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            time.sleep(delay_s)
            return self._call(os.pread, fh, size, offset)

        def release(self, path: str, fh: int) -> int:
            time.sleep(delay_s)
            os.close(fh)
            return 0

        def statfs(self, path: str) -> dict:
            st = self._call(os.statvfs, self._real(path))
            return {key: getattr(st, key) for key in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                                                      "f_files", "f_ffree", "f_favail", "f_flag", "f_namemax")}

    return SlowPassthrough()


def serve(root: str, mountpoint: str, delay_s: float, threads: int) -> None:
    """Mount ``root`` at ``mountpoint`` and serve it until unmounted (blocks; run in its own process)."""
    import warnings

    import mfusepy

    warnings.simplefilter("ignore", DeprecationWarning)
    mfusepy.FUSE(_operations(os.path.realpath(root), delay_s), mountpoint, foreground=True, ro=True,
                 fsname=f"slow-share-{delay_s * 1000:g}ms", max_threads=threads, max_idle_threads=threads)


@contextmanager
def mounted(root: Path, mountpoint: Path, delay_s: float, threads: int = 64,
            timeout_s: float = 30) -> Iterator[Path]:
    """``root`` mounted read-only at ``mountpoint`` with ``delay_s`` per operation; unmounted on leaving.

    The daemon runs in a child process with up to ``threads`` requests served at once.
    """
    mountpoint.mkdir(parents=True, exist_ok=True)
    log = open(mountpoint.parent / f"{mountpoint.name}.fuse.log", "w+")
    binary = c_server()
    if binary:
        command = [str(binary), repr(delay_s * 1000), str(root), str(mountpoint), "-f", "-o",
                   f"ro,fsname=slow-share-{delay_s * 1000:g}ms,max_threads={threads},max_idle_threads={threads}"]
    else:
        command = [sys.executable, __file__, "--serve", str(root), str(mountpoint),
                   "--delay-ms", repr(delay_s * 1000), "--threads", str(threads)]
    daemon = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while not os.path.ismount(mountpoint):
            if daemon.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"the FUSE share did not mount at {mountpoint}: {log.read()[-2000:]}")
            time.sleep(0.05)
        yield mountpoint
    finally:
        if os.path.ismount(mountpoint):
            subprocess.run(["fusermount3", "-u", str(mountpoint)], check=False)
        try:
            daemon.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve ROOT at MOUNTPOINT read-only, DELAY ms per operation.")
    parser.add_argument("--serve", nargs=2, metavar=("ROOT", "MOUNTPOINT"), required=True)
    parser.add_argument("--delay-ms", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()
    serve(args.serve[0], args.serve[1], args.delay_ms / 1000, args.threads)


if __name__ == "__main__":
    main()
