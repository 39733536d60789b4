"""NumPy's BLAS (OpenBLAS in NumPy's wheels): its thread count and its idle spin, set at run time.

jitgrad's matrix products run in NumPy's BLAS.  Two of OpenBLAS's defaults hurt a machine that
is shared -- by jitgrad's own parallel kernels, or by another process:

* after every product OpenBLAS's idle threads spin for ``2**28`` cycles (~0.1 s) before they
  sleep.  jitgrad's next elementwise kernel, or a neighbour's process, then gets a core less:
  an MLP step went from ~4 ms to 13 ms in some fresh processes and to 25-50x its time beside a
  second training process.  :func:`tune` sets OpenBLAS's ``OPENBLAS_THREAD_TIMEOUT`` to its
  minimum (idle threads sleep at once) by re-reading the environment in the loaded library and
  restarting its (idle) threads; a user's own ``OPENBLAS_THREAD_TIMEOUT`` wins, and
  ``JITGRAD_BLAS_TUNING=0`` leaves OpenBLAS alone;
* its thread count is fixed at start-up; :func:`set_num_threads` changes it (as ``threadpoolctl``
  does), for ``jitgrad.set_num_threads`` and the core-sharing policy in ``kernels/__init__``.

The library is found among the shared objects this process has loaded (``/proc/self/maps``):
NumPy's wheels bundle ``libscipy_openblas64_``, other builds link ``libopenblas``.  With another
BLAS (MKL, Accelerate) or none found, everything here does nothing (``available()`` is False).
"""
import ctypes
import os

_lib = None  # the loaded OpenBLAS (ctypes.CDLL), False when none was found, None until looked up
_set_threads = None
_THREAD_FUNCS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                 "openblas_set_num_threads64_", "openblas_set_num_threads")
_QUIET_TIMEOUT = "4"  # OPENBLAS_THREAD_TIMEOUT's minimum: 2**4 cycles of spin, then sleep


def _find():
    global _lib, _set_threads
    if _lib is not None:
        return _lib
    _lib = False
    try:
        import numpy  # noqa: F401  (its BLAS is the one to find: loaded with numpy.linalg's core)
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[5].strip() for line in maps if "openblas" in line.lower()
                     and len(line.split(None, 5)) == 6}
    except (OSError, IndexError):
        return _lib
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)  # already loaded: this only returns its handle
        except OSError:
            continue
        for name in _THREAD_FUNCS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], None
                _lib, _set_threads = lib, fn
                return _lib
    return _lib


def available() -> bool:
    """True when NumPy's OpenBLAS was found and can be steered."""
    return bool(_find())


def set_num_threads(n: int) -> bool:
    """Set OpenBLAS's thread count; False when there is no OpenBLAS to set."""
    if not _find():
        return False
    _set_threads(int(n))
    return True


def tune() -> bool:
    """Make OpenBLAS's idle threads sleep at once (see the module docstring); True when applied."""
    if os.environ.get("JITGRAD_BLAS_TUNING", "1") == "0" or "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return False
    lib = _find()
    read_env = getattr(lib, "openblas_read_env", None) if lib else None
    shutdown = getattr(lib, "blas_thread_shutdown_", None) if lib else None
    if read_env is None or shutdown is None:
        return False
    # openblas_read_env re-reads every OPENBLAS_* variable: the timeout is set only while it runs
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = _QUIET_TIMEOUT
    try:
        read_env()
    finally:
        del os.environ["OPENBLAS_THREAD_TIMEOUT"]
    # the threads read the timeout when they start: stop them (they are idle at import; OpenBLAS
    # starts them again at the next product that wants them)
    shutdown()
    return True


def thread_timeout():
    """OpenBLAS's current idle-spin setting (``log2`` cycles), or None (for tests)."""
    lib = _find()
    fn = getattr(lib, "openblas_thread_timeout", None) if lib else None
    if fn is None:
        return None
    fn.restype = ctypes.c_int
    return fn()
