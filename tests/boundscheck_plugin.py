"""pytest plugin for the ``NUMBA_BOUNDSCHECK=1`` CI run (``.ci/run`` loads it with ``-p``).

Under NUMBA_BOUNDSCHECK a kernel indexing out of range raises ``IndexError('index is out of
bounds')``.  An uncaught one fails its test anyway; this plugin also fails a test whose
``pytest.raises(IndexError)`` (or ``(Exception)``, ...) would otherwise swallow it, since that
error means an unchecked index reached a kernel: jitgrad must have refused it before.
"""
import pytest

try:  # pytest >= 8.4
    from _pytest.raises import RaisesExc as _Raises
except ImportError:  # pragma: no cover - older pytest
    from _pytest.python_api import RaisesContext as _Raises

BOUNDS_MESSAGE = "index is out of bounds"  # Numba's text (numba/core/base.py, boundscheck)

_exit = _Raises.__exit__


def _checked_exit(self, exc_type, exc_val, exc_tb):
    if exc_val is not None and isinstance(exc_val, IndexError) and str(exc_val) == BOUNDS_MESSAGE:
        raise AssertionError("Numba's bounds check fired inside a kernel (an out-of-range index reached it "
                             "unchecked); pytest.raises would have accepted it") from exc_val
    return _exit(self, exc_type, exc_val, exc_tb)


def pytest_configure(config):
    _Raises.__exit__ = _checked_exit


def pytest_unconfigure(config):
    _Raises.__exit__ = _exit


@pytest.fixture
def _boundscheck_plugin_loaded():  # lets a test check that the plugin is active
    return True
