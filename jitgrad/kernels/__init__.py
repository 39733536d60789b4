"""Numba kernels: plain loops on NumPy arrays, no Tensor in sight.

Every kernel is ``@njit(cache=True)``: compiled lazily on first call for the dtypes it meets,
then loaded from Numba's on-disk cache in later processes.
"""


def set_num_threads(n: int) -> None:
    """Set the number of threads used by jitgrad's parallel kernels (and Numba's)."""
    import numba

    numba.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads jitgrad's parallel kernels use."""
    import numba

    return numba.get_num_threads()
