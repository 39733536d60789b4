"""Broadcasting, solved once for every binary op: shapes forward, ``reduce_to_shape`` backward."""
import numpy as np

from .. import errors


def broadcast_shapes(a: tuple, b: tuple) -> tuple:
    """The broadcast shape of ``a`` and ``b``, with PyTorch's error when they do not broadcast."""
    if a == b:
        return a
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise errors.broadcast_error(a, b) from None


def reduce_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the dims that broadcasting expanded, so it matches ``shape``.

    The gradient of a broadcast input is the sum of the gradient over every position the
    input was copied to: leading dims that were added, and dims of size 1 that were stretched.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        from .reduction import sum_array

        grad = sum_array(grad, axes)
    return grad.reshape(shape)
