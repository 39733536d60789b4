"""Keep freed large buffers in the process instead of handing them back to the kernel.

glibc's ``malloc`` serves a request above ``M_MMAP_THRESHOLD`` with a fresh ``mmap`` and returns
the heap's free top to the kernel once it exceeds ``M_TRIM_THRESHOLD``.  Both thresholds adapt
upwards (to 32 MiB / 64 MiB at most), which is not enough for an autograd workload: a
4M-element chain keeps a dozen 16-32 MB arrays alive through the forward pass and frees them in
the backward pass, so every iteration trims the heap and then page-faults the same memory back
in.  Measured on this project's 2-core VM, W2 (``(tanh(x)*sigmoid(x) + x*x*0.5).sum()``
forward+backward, 4M float32, one thread, jitgrad alone in its process): 32.4 ms per
iteration, half of it (15.9 ms) kernel time for 5,900 page faults; with the thresholds below
19.0 ms, no page faults, and the same peak RSS.  PyTorch's CPU tuning guide gives the same
advice (use jemalloc/tcmalloc); this is the glibc-native way to get it without preloading a
library.

The cost: up to ``M_TRIM_THRESHOLD`` (256 MiB) of freed memory may stay mapped at the top of the
heap after a large computation, as in any caching allocator.  ``malloc_trim(0)`` (``jitgrad.
_allocator.release_memory()``) hands it back.

Not done when: the C library is not glibc; the user set glibc's own malloc variables
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_``
or a ``glibc.malloc`` tunable); or ``JITGRAD_MALLOC_TUNING=0``.
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 256 << 20
_USER_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")

#: what :func:`tune` did, for the benchmarks' headers and the tests: "tuned", or why not
state = "not run"


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only (musl has no mallopt)
        libc.mallopt
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def tune():
    """Raise glibc's mmap and trim thresholds (see the module's docstring); returns :data:`state`."""
    global state
    env = os.environ
    if env.get("JITGRAD_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        state = "off (JITGRAD_MALLOC_TUNING)"
    elif any(v in env for v in _USER_VARS) or "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        state = "off (the environment sets glibc's malloc options)"
    else:
        libc = _libc()
        if libc is None:
            state = "off (not glibc)"
        else:
            # glibc before 2.35 refuses an mmap threshold above 32 MiB (HEAP_MAX_SIZE / 2)
            ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) or libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
            ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) and ok
            state = "tuned" if ok else "off (mallopt refused)"
    return state


def release_memory():
    """Return the heap's free memory to the kernel now (``malloc_trim(0)``); True if any was."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
