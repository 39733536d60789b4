"""Grad mode: whether ops record the graph.  Thread-local, as in PyTorch."""
import functools
import threading


class _GradState(threading.local):
    enabled = True  # class attribute: the default every new thread sees


_state = _GradState()


def is_grad_enabled() -> bool:
    """Return True if grad mode is currently enabled."""
    return _state.enabled


class _GradModeContext:
    """Base of the grad-mode context managers; each instance is also a decorator."""

    _target = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._target

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _state.enabled
            _state.enabled = self._target
            try:
                return func(*args, **kwargs)
            finally:
                _state.enabled = prev

        return wrapper

    def clone(self):
        return self.__class__()


class _NoParamDecorator(_GradModeContext):
    """Allows both ``@no_grad()`` and bare ``@no_grad``, as PyTorch 2 does."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecorator):
    """Context manager (and decorator) that disables gradient recording."""

    _target = False


class enable_grad(_NoParamDecorator):
    """Context manager (and decorator) that enables gradient recording."""

    _target = True


class inference_mode(_GradModeContext):
    """Like ``no_grad``: jitgrad records nothing in either."""

    def __init__(self, mode: bool = True):
        self._target = not mode


class set_grad_enabled(_GradModeContext):
    """Set grad mode on or off: as a function call, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self._prev = _state.enabled
        self._target = bool(mode)
        _state.enabled = self._target  # takes effect immediately when used as a function

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        _state.enabled = self._prev  # used as a decorator: undo the immediate effect
        return super().__call__(func)

    def clone(self):
        return self.__class__(self._target)
