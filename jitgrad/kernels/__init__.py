"""Numba kernels: plain loops on NumPy arrays, no Tensor in sight.

Every kernel is ``@njit(cache=True)``: compiled lazily on first call for the dtypes it meets,
then loaded from Numba's on-disk cache in later processes.  ``vmath`` holds jitgrad's own
vectorisable exp/log/tanh/... for use inside kernels.

Threads
-------
Kernels compiled with ``parallel=True`` (the ``*_parallel`` twins, used on large arrays) run on
Numba's thread pool.  Its size is fixed when Numba starts: ``NUMBA_NUM_THREADS`` (environment
variable, default: the number of CPU cores) is the most threads jitgrad can ever use;
``jitgrad.set_num_threads(n)`` picks how many of them run (like ``torch.set_num_threads``).
``NUMBA_THREADING_LAYER`` chooses the pool implementation (``omp``, ``tbb`` or ``workqueue``).
"""
import numbers

_requested = None  # what set_num_threads was given (PyTorch reports it back even when capped)
_blas_limiter = None


def set_num_threads(n: int) -> None:
    """Sets the number of threads used for intraop parallelism on CPU.

    jitgrad's parallel kernels use ``min(n, NUMBA_NUM_THREADS)`` threads.  When ``threadpoolctl``
    is installed, NumPy's BLAS (used by matmul) is capped to ``n`` threads as well, so that the
    two thread pools do not oversubscribe the cores.
    """
    global _requested, _blas_limiter
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")  # noqa: TRY004 (PyTorch's)
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    import numba

    numba.set_num_threads(min(int(n), numba.config.NUMBA_NUM_THREADS))
    _requested = int(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own setting (OMP_NUM_THREADS ...)
        return
    _blas_limiter = threadpool_limits(limits=int(n), user_api="blas")


def get_num_threads() -> int:
    """Returns the number of threads used for parallelizing CPU operations."""
    import numba

    actual = numba.get_num_threads()
    # PyTorch reports the number it was given, even above the pool size (NUMBA_NUM_THREADS)
    if _requested is not None and actual == min(_requested, numba.config.NUMBA_NUM_THREADS):
        return _requested
    return actual


def _start_thread_pool() -> None:
    """Start Numba's thread pool now, with OpenMP's spin-wait after a parallel region cut short.

    By default libgomp's idle threads spin for ~300k iterations after every parallel kernel,
    occupying the cores that the next matrix product's BLAS threads need: an MLP training step
    (W3) on 2 cores went from 34 ms to 5.6 ms with ``GOMP_SPINCOUNT=1000``.  libgomp reads its
    environment once, when it is loaded, so the variable is set only around loading Numba's
    OpenMP layer and then restored: other libraries' OpenMP runtimes (PyTorch bundles its own)
    keep their defaults.  A user's own ``OMP_WAIT_POLICY``/``GOMP_SPINCOUNT`` is respected.
    """
    import os

    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    os.environ["GOMP_SPINCOUNT"] = "1000"
    try:
        from numba.np.ufunc import parallel

        parallel._launch_threads()
    except Exception:  # no threading layer available: parallel kernels will report it when used
        pass
    finally:
        del os.environ["GOMP_SPINCOUNT"]
