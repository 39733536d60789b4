"""Kernels of ``nn.functional.linear``'s fused path (``AddmmBackward0``): the matrix products
are BLAS calls; adding the bias to every row is this loop (its gradient, a column sum, is the
shared reduction kernel)."""
from ._jit import njit


@njit(cache=True, error_model="numpy")
def add_bias_rows(out, bias):
    # out: the flat (rows, cols) product, updated in place; bias: (cols,)
    cols = bias.size
    if cols == 0:
        return
    rows = out.size // cols
    for i in range(rows):
        base = i * cols
        for j in range(cols):
            out[base + j] += bias[j]
