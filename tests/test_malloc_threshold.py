"""glibc's malloc keeps serving large blocks by mmap in a process that imports mass_ingest (see its __init__)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A child process: the threshold is per process, and the test run's own allocations must not move it.
_CHILD = r'''
import ctypes, sys
if sys.argv[1] == "import":
    import mass_ingest
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(8 << 20))  # glibc's dynamic threshold rises to 8 MiB when this mmapped block is freed
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before)  # 1: the 1 MiB block is its own mapping, returned when freed
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_large_block_freed_does_not_send_the_next_ones_to_the_heap():
    # A plain environment: glibc reads MALLOC_* and GLIBC_TUNABLES at start, and any of them turns the dynamic
    # threshold off (the test passed alone and failed once in a whole run).
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}

    def mapped(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, env=env)
        if "mallinfo2" in done.stderr:
            pytest.skip("not glibc 2.33 or later")
        return done.stdout.strip()

    if mapped("plain") != "0":  # the control: without mass_ingest, the heap, whose freed holes the process keeps
        pytest.skip("glibc's dynamic mmap threshold is off on this machine: nothing for the setting to change")
    assert mapped("import") == "1"
