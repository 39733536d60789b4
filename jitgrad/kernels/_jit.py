"""``njit``: Numba's decorator, with an on-disk cache that several processes may fill at once.

Numba's cache (``cache=True``) keeps one index file per function (signature -> data file name)
and one data file per compiled signature.  Two processes compiling two signatures of the same
function at the same time -- a cold cache under ``mpirun -n 4``, DataLoader workers, the test
suite's worker processes -- can both read the index before either writes it, pick the same data
file name, and leave an index that sends signature B to the machine code compiled for signature A
(numba/numba#4807, #10128).  Every later process then loads the wrong code for B: a segfault, or
wrong values, until the source file changes.  Our CI hit it once (a worker died inside a
compile, under ``NUMBA_BOUNDSCHECK=1`` with a cold cache).

jitgrad's kernels use this module's ``njit``, whose cache file

* takes an exclusive ``flock`` on a lock file in the cache directory while it picks a data file
  name and writes the entry, so two processes never share a name;
* writes the data file before the index, and stores the entry's key inside the data file; a load
  whose data file holds another key (an entry written by plain Numba or torn some other way) is a
  cache miss: the function is compiled again, never run with another signature's code.

Loads take no lock: data and index files are replaced atomically (``os.replace``), and the key
check makes any interleaving safe.  Where ``fcntl`` is missing (Windows) saves run unlocked; the
key check still keeps wrong code from being loaded.
"""
import contextlib
import itertools
import os
import sys
import types

from numba import njit as _numba_njit
from numba.core import caching

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

_TAG = "jitgrad-cache-entry-1"
_LOCK_NAME = ".jitgrad-numba-cache.lock"


@contextlib.contextmanager
def _cache_dir_locked(path):
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(os.path.join(path, _LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # an unwritable cache directory: Numba's own save fails and is ignored
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # (closing releases the lock)


class SafeCacheFile(caching.IndexDataCacheFile):
    """Numba's index/data cache file, safe against concurrent writers (see the module docstring)."""

    def save(self, key, data):
        with _cache_dir_locked(self._cache_path):
            overloads = self._load_index()
            name = overloads.get(key)
            if name is None or list(overloads.values()).count(name) > 1:  # (a torn index shares names)
                taken = set(overloads.values())
                name = next(n for n in map(self._data_name, itertools.count(1)) if n not in taken)
            self._save_data(name, (_TAG, key, data))
            if overloads.get(key) != name:
                overloads[key] = name
                self._save_index(overloads)

    def load(self, key):
        entry = super().load(key)
        if type(entry) is tuple and len(entry) == 3 and entry[0] == _TAG and entry[1] == key:
            return entry[2]
        return None  # no entry, or one that is not this key's: compile again


def protect(dispatcher):
    """Give a ``cache=True`` dispatcher the concurrency-safe cache file; returns it."""
    cache = getattr(dispatcher, "_cache", None)
    cache_file = getattr(cache, "_cache_file", None)
    if type(cache_file) is caching.IndexDataCacheFile:
        cache_file.__class__ = SafeCacheFile
    return dispatcher


def njit(*args, **kwargs):
    """``numba.njit`` (same arguments), with :class:`SafeCacheFile` for ``cache=True``."""
    if args and callable(args[0]) and len(args) == 1 and not kwargs:
        return protect(_numba_njit(args[0]))
    decorate = _numba_njit(*args, **kwargs)
    return lambda fn: protect(decorate(fn))


# ============================================================================ serial/parallel twins
#: serial kernel -> its parallel twin (``parallel=True``), for every loop declared below; the op
#: layer calls the twin for arrays of ``PARALLEL_THRESHOLD`` elements or more, and
#: ``kernels._install_lazy_pool`` reroutes the entries (pool not started yet, one thread, fork)
PARALLEL = {}
#: serial kernel -> (module, attribute) where the twin is also bound (``<name>_parallel``)
TWIN_SITES = {}


def _copy_function(fn, name, qualname, module_globals=None):
    """A new function object running ``fn``'s code: its own name (and so its own Numba cache
    index, ``<qualname>-<line>``), optionally its own globals (what the code's free names mean)."""
    new = types.FunctionType(fn.__code__, fn.__globals__ if module_globals is None else module_globals,
                             name, fn.__defaults__, fn.__closure__)
    new.__qualname__ = qualname
    new.__module__ = fn.__module__
    return new


def pair(serial, parallel, module=None):
    """Record ``parallel`` as the twin of ``serial`` (a loop whose parallel form differs, e.g. a
    sum in another order); ``module`` binds it as ``<serial name>_parallel`` too."""
    PARALLEL[serial] = parallel
    if module is not None:
        name = serial.py_func.__name__ + "_parallel"
        setattr(module, name, parallel)
        TWIN_SITES[serial] = (module, name)
    return serial


def twin(**options):
    """``@twin(error_model="numpy")``: compile one loop written with ``prange`` twice, serial
    (``prange`` runs as ``range``) and ``parallel=True``, each cached under its own name.  Returns
    the serial kernel; the twin is ``PARALLEL[serial]`` and ``<module>.<name>_parallel``."""
    def decorate(fn):
        serial = njit(cache=True, **options)(fn)
        clone = _copy_function(fn, fn.__name__ + "_parallel", fn.__qualname__ + "_parallel")
        parallel = njit(cache=True, parallel=True, **options)(clone)
        return pair(serial, parallel, sys.modules.get(fn.__module__))
    return decorate
