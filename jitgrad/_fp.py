"""NumPy's floating-point warnings, off where PyTorch prints nothing.

PyTorch prints nothing when a product or a cast overflows to inf or meets NaN; NumPy warns
("overflow encountered in matmul").  NumPy keeps its floating-point error state in a context
variable: setting it directly costs ~0.1 us, ``np.errstate`` ~0.8 us -- too much around every
small product.  (``np.errstate`` is the fallback on a NumPy without that variable.)

The engine runs every backward pass in the quiet state (one switch per pass, so the backward
functions' products need none); forward products switch it around themselves.
"""
import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar as _state

    with np.errstate(over="ignore", invalid="ignore"):
        QUIET = _state.get()
    enter = _state.set  # enter(QUIET) -> token; leave(token)
    leave = _state.reset
except (ImportError, AttributeError):  # pragma: no cover - another NumPy layout
    _state = QUIET = None

    def enter(_quiet):
        ctx = np.errstate(over="ignore", invalid="ignore")
        ctx.__enter__()
        return ctx

    def leave(ctx):
        ctx.__exit__(None, None, None)


def quiet(fn, *args):
    """``fn(*args)`` with NumPy's overflow and invalid-value warnings off."""
    token = enter(QUIET)
    try:
        return fn(*args)
    finally:
        leave(token)
