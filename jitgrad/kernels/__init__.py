"""Numba kernels: plain loops on NumPy arrays, no Tensor in sight.

Every kernel is ``@njit(cache=True)``: compiled lazily on first call for the dtypes it meets,
then loaded from Numba's on-disk cache in later processes.  ``vmath`` holds jitgrad's own
vectorisable exp/log/tanh/... for use inside kernels.

Threads
-------
Kernels compiled with ``parallel=True`` (the ``*_parallel`` twins, used on large arrays) run on
Numba's thread pool.  Its size is fixed when the pool starts: ``NUMBA_NUM_THREADS`` (environment
variable, default: the number of CPU cores) is the most threads jitgrad can ever use;
``jitgrad.set_num_threads(n)`` picks how many of them run (like ``torch.set_num_threads``).

The pool starts lazily, at the first parallel kernel (importing jitgrad starts no thread), on
Numba's ``workqueue`` layer unless the user chose one (``NUMBA_THREADING_LAYER``): its idle
threads sleep on a condition variable instead of spinning, and it shares no OpenMP runtime with
PyTorch (see :func:`_start_thread_pool`).  Every call site reads the twin through the kernel
module (``PARALLEL[serial]`` or ``module.<name>_parallel``), so :func:`_reroute` can point them
all at a starter (pool not started yet), at the parallel twins, or at the serial kernels (one
thread requested, or a child forked after the pool started: the pool's threads do not exist
there) without any per-call cost.

Sharing the machine
-------------------
Parallel kernels and BLAS products synchronise their threads at the end of every call: on cores
that another busy process also wants, each call waits for its slowest (descheduled) thread, and
a training step beside a second one took 25-50x its quiet time instead of the fair 2x.  So,
unless the user fixed the thread count (``set_num_threads``) or set ``JITGRAD_SHARE_CORES=0``,
every backward pass calls :func:`share_cores`, which at most every 0.2 s reads how many threads
are runnable on the machine (``/proc/loadavg``), keeps a moving average of those that are not
this thread, and runs jitgrad's kernels and NumPy's BLAS on the cores left free (at least one):
beside a busy neighbour on 2 cores, one thread each and no waiting on each other.
"""
import numbers
import os
import threading
import time

_requested = None  # what set_num_threads was given (PyTorch reports it back even when capped)
_blas_limiter = None

#: the state of Numba's pool for jitgrad: "lazy" (not started), "started", "forked" (this process
#: was forked after the pool started: serial kernels only), or "unavailable" (no threading layer)
pool_state = "lazy"
_pool_lock = threading.Lock()
# Numba's workqueue layer aborts the process when two threads launch parallel kernels at once
# (a backward pass in each of 4 Python threads does): on it, a kernel called while another
# thread's runs takes the serial path instead (a wrapper and a non-blocking try of this lock:
# under a microsecond, on arrays of 65,536+ elements).
_launch_lock = threading.Lock()
_launch_lock_needed = False
# (PARALLEL table, kernel module, attribute name of the twin, serial kernel, parallel twin,
#  starter, lock-guarded twin)
_TWINS = []


_SHARE = os.environ.get("JITGRAD_SHARE_CORES", "1") != "0"
_CHECK_EVERY = 0.2  # seconds between two reads of /proc/loadavg
_next_check = 0.0
_others = 0.0  # moving average of the runnable threads on the machine that are not this one
_active = None  # the thread count share_cores chose (None: it has not limited anything)
try:
    _CORES = len(os.sched_getaffinity(0))
except (AttributeError, OSError):
    _CORES = os.cpu_count() or 1


def share_cores(_now=time.monotonic) -> None:
    """Run on the cores other processes leave free (called by every backward pass; see above)."""
    global _next_check
    now = _now()
    if now < _next_check or not _SHARE or _requested is not None or _CORES < 2:
        return
    _next_check = now + _CHECK_EVERY
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return
    _adapt(running - 1)  # (the calling thread is running: it is not an "other")


def _adapt(others: int) -> None:
    global _others, _active
    # a smoothed count (one stray runnable thread -- a kernel thread, our own pool falling asleep --
    # must not halve the threads), and a dead band of 0.75 core around the current choice
    _others = 0.7 * _others + 0.3 * max(others, 0)
    free = _CORES - _others
    current = _active or _CORES
    if current - 0.75 <= free <= current + 0.75:
        return
    wanted = max(1, min(_CORES, int(free + 0.5)))
    if wanted == current:
        return
    _active = wanted if wanted < _CORES else None
    _apply(wanted)


def _apply(n: int) -> None:
    """Use ``n`` threads for jitgrad's kernels and NumPy's BLAS (the policy's decision)."""
    from .. import _blas

    if pool_state == "started" and n > 1:
        import numba

        numba.set_num_threads(min(n, _max_threads()))
    _reroute()
    _blas.set_num_threads(n)


def _max_threads() -> int:
    import numba

    return numba.config.NUMBA_NUM_THREADS


def set_num_threads(n: int) -> None:
    """Sets the number of threads used for intraop parallelism on CPU.

    jitgrad's parallel kernels use ``min(n, NUMBA_NUM_THREADS)`` threads; with ``n == 1`` the
    serial kernels run instead (no thread is woken).  When ``threadpoolctl`` is installed, NumPy's
    BLAS (used by matmul) is capped to ``n`` threads as well, so that the two thread pools do not
    oversubscribe the cores.
    """
    global _requested, _blas_limiter, _active
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")  # noqa: TRY004 (PyTorch's)
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _requested = int(n)
    _active = None  # the user's number from now on, not share_cores' choice
    if pool_state == "started":
        import numba

        numba.set_num_threads(min(_requested, _max_threads()))
    _reroute()
    from .. import _blas

    if _blas.set_num_threads(_requested):
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it another BLAS keeps its own setting (OMP_NUM_THREADS ...)
        return
    _blas_limiter = threadpool_limits(limits=int(n), user_api="blas")


def get_num_threads() -> int:
    """Returns the number of threads used for parallelizing CPU operations."""
    if pool_state == "forked":
        return 1  # as PyTorch's forked child
    if pool_state != "started":  # (numba.get_num_threads would start the pool)
        return _requested if _requested is not None else _max_threads()
    import numba

    actual = numba.get_num_threads()
    # PyTorch reports the number it was given, even above the pool size (NUMBA_NUM_THREADS)
    if _requested is not None and actual == min(_requested, _max_threads()):
        return _requested
    return actual


def _reroute() -> None:
    """Point every parallel call site at the kernels the current state calls for."""
    serial_only = pool_state in ("forked", "unavailable") or _requested == 1 or (
        _requested is None and _active == 1)
    for table, module, name, serial, parallel, starter, guarded in _TWINS:
        if serial_only:
            kernel = serial
        elif pool_state == "started":
            kernel = guarded if _launch_lock_needed else parallel
        else:
            kernel = starter
        table[serial] = kernel
        setattr(module, name, kernel)


def _make_starter(module, name):
    def start_pool_then_run(*args):
        _start_thread_pool()
        return getattr(module, name)(*args)  # the twin, or the serial kernel if no pool could start

    return start_pool_then_run


def _make_guarded(serial, parallel):
    acquire, release = _launch_lock.acquire, _launch_lock.release

    def parallel_unless_busy(*args):
        if acquire(False):
            try:
                return parallel(*args)
            finally:
                release()
        return serial(*args)  # another thread's parallel kernel is running

    return parallel_unless_busy


def _install_lazy_pool() -> None:
    """Route the parallel twins through starters; called once by ``jitgrad/__init__``, after
    every kernel module and op declaration has made its twins (``kernels/_jit.py``)."""
    from . import _jit

    if _TWINS:
        return
    for serial, parallel in _jit.PARALLEL.items():
        module, name = _jit.TWIN_SITES[serial]
        assert getattr(module, name) is parallel, name
        _TWINS.append((_jit.PARALLEL, module, name, serial, parallel, _make_starter(module, name),
                       _make_guarded(serial, parallel)))
    _reroute()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _after_fork_in_child() -> None:
    """A child forked after the pool started has none of its threads (and Numba's OpenMP layer
    kills such a child at its first parallel region): run the serial kernels there."""
    global pool_state, _pool_lock
    _pool_lock = threading.Lock()  # another thread may have held it at the fork
    if pool_state == "started":
        pool_state = "forked"
        _reroute()


def _start_thread_pool() -> None:
    """Start Numba's thread pool (at the first parallel kernel; every later call returns at once).

    The layer is Numba's ``workqueue`` unless the user picked one (``NUMBA_THREADING_LAYER`` or
    ``numba.config.THREADING_LAYER``) or Numba's pool was already started by other code.  The
    ``omp`` layer (Numba's default when it is available) misbehaves beside other libraries:

    * libgomp's idle threads spin for ~300k iterations after every parallel region, occupying the
      cores that the next matrix product's BLAS threads need (an MLP training step on 2 cores:
      34 ms instead of 5.6 ms);
    * PyTorch ships its own ``libgomp.so.1`` and loads it ``RTLD_GLOBAL``: imported before
      jitgrad, its copy serves the GOMP symbols of Numba's ``omppool`` as well, with PyTorch's
      settings; imported after, PyTorch runs on the system libgomp that Numba loaded.  Either way
      the two share one OpenMP runtime, whose environment is read once, when it is loaded;
    * GNU OpenMP cannot be forked: a child of a process that ran a parallel region is killed.

    ``workqueue`` has none of these: its idle threads wait on a condition variable.  It aborts
    the process when two threads launch parallel kernels at once, so on it each twin is called
    through :func:`_make_guarded`'s wrapper (the serial kernel runs when the pool is busy).
    When the user picks ``omp`` anyway, ``GOMP_SPINCOUNT=1000`` is set while Numba loads it (it
    works when libgomp is not loaded yet); a user's ``OMP_WAIT_POLICY``/``GOMP_SPINCOUNT`` wins.
    """
    global pool_state, _launch_lock_needed
    if pool_state != "lazy":
        return
    with _pool_lock:
        if pool_state != "lazy":
            return
        import numba
        from numba.np.ufunc import parallel

        if not parallel._is_initialized and "NUMBA_THREADING_LAYER" not in os.environ \
                and numba.config.THREADING_LAYER == "default":
            numba.config.THREADING_LAYER = "workqueue"
        spin = (not parallel._is_initialized and numba.config.THREADING_LAYER in ("omp", "default")
                and "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ)
        if spin:
            os.environ["GOMP_SPINCOUNT"] = "1000"
        try:
            parallel._launch_threads()
            _launch_lock_needed = numba.threading_layer() == "workqueue"
            if _requested is not None or _active is not None:
                numba.set_num_threads(min(_requested or _active, _max_threads()))
            pool_state = "started"
        except Exception:  # noqa: BLE001 - no threading layer can load: run the serial kernels
            pool_state = "unavailable"
        finally:
            if spin:
                del os.environ["GOMP_SPINCOUNT"]
        _reroute()
