"""Kernels of the indexing and joining ops: gather / scatter, index_select, roll, tril / triu.

Every kernel sees the ``(outer, n, inner)`` 3-D view of its arrays, with the op's dim in the
middle (the Python layer builds the views), so each compiles once per dtype whatever the
tensors' ndim.  The pure data-movement kernels (gather, index_select, scatter, roll, tril /
triu) are called on the arrays' bits (``uint8`` ... ``uint64`` views, see ``ops/joining.py``),
so they compile once per item size rather than once per dtype.  Index arrays are int64.

Kernels that take indices return the flat position of the first index out of range (or -1),
so the Python layer can raise PyTorch's error; they write nothing past that position.
"""
from ._jit import njit


# --------------------------------------------------------------------------- gather / scatter
@njit(cache=True, error_model="numpy")
def gather_middle(x, index, out):
    # out[i, j, l] = x[i, index[i, j, l], l]
    outer, k, inner = index.shape
    n = x.shape[1]
    for i in range(outer):
        for j in range(k):
            for l in range(inner):
                t = index[i, j, l]
                if t < 0 or t >= n:
                    return (i * k + j) * inner + l
                out[i, j, l] = x[i, t, l]
    return -1


@njit(cache=True, error_model="numpy")
def scatter_add_middle(out, index, src):
    # out[i, index[i, j, l], l] += src[i, j, l]: repeated indices accumulate (gather's gradient)
    outer, k, inner = index.shape
    n = out.shape[1]
    for i in range(outer):
        for j in range(k):
            for l in range(inner):
                t = index[i, j, l]
                if t < 0 or t >= n:
                    return (i * k + j) * inner + l
                out[i, t, l] += src[i, j, l]
    return -1


@njit(cache=True, error_model="numpy")
def scatter_middle(out, index, src):
    # out[i, index[i, j, l], l] = src[i, j, l] (the last write wins, as on PyTorch's CPU)
    outer, k, inner = index.shape
    n = out.shape[1]
    for i in range(outer):
        for j in range(k):
            for l in range(inner):
                t = index[i, j, l]
                if t < 0 or t >= n:
                    return (i * k + j) * inner + l
                out[i, t, l] = src[i, j, l]
    return -1


@njit(cache=True, error_model="numpy")
def scatter_fill_middle(out, index, value):
    # out[i, index[i, j, l], l] = value
    outer, k, inner = index.shape
    n = out.shape[1]
    for i in range(outer):
        for j in range(k):
            for l in range(inner):
                t = index[i, j, l]
                if t < 0 or t >= n:
                    return (i * k + j) * inner + l
                out[i, t, l] = value
    return -1


# --------------------------------------------------------------------------- index_select
@njit(cache=True, error_model="numpy")
def index_select_middle(x, index, out):
    # out[i, j, l] = x[i, index[j], l]; every index is checked before anything is written
    n = x.shape[1]
    for j in range(index.size):
        if index[j] < 0 or index[j] >= n:
            return j
    outer, k, inner = out.shape
    for i in range(outer):
        for j in range(k):
            t = index[j]
            for l in range(inner):
                out[i, j, l] = x[i, t, l]
    return -1


@njit(cache=True, error_model="numpy")
def index_add_middle(out, index, src):
    # out[i, index[j], l] += src[i, j, l]: index_select's gradient (repeated indices accumulate).
    # The index may have been changed (through ``.data``) since the forward checked it, so it
    # is checked again before anything is written.
    n = out.shape[1]
    for j in range(index.size):
        if index[j] < 0 or index[j] >= n:
            return j
    outer, k, inner = src.shape
    for i in range(outer):
        for j in range(k):
            t = index[j]
            for l in range(inner):
                out[i, t, l] += src[i, j, l]
    return -1


# --------------------------------------------------------------------------- roll
@njit(cache=True, error_model="numpy")
def roll_middle(x, shift, out):
    # out[i, (j + shift) % n, l] = x[i, j, l], for 0 <= shift < n (two block copies)
    outer, n, inner = x.shape
    for i in range(outer):
        for j in range(n - shift):
            for l in range(inner):
                out[i, j + shift, l] = x[i, j, l]
        for j in range(n - shift, n):
            for l in range(inner):
                out[i, j + shift - n, l] = x[i, j, l]


# --------------------------------------------------------------------------- tril / triu
@njit(cache=True, error_model="numpy")
def trilu_forward(x, diagonal, lower, out):
    # x, out: (batch, rows, cols).  tril keeps column - row <= diagonal, triu keeps
    # column - row >= diagonal; the rest is zero (all-zero bits: 0, +0.0, False).
    batch, rows, cols = x.shape
    for b in range(batch):
        for r in range(rows):
            for c in range(cols):
                keep = (c - r <= diagonal) if lower else (c - r >= diagonal)
                # Two stores, not ``x if keep else 0``: that expression unifies uint64 with an
                # int literal as float64 and rounds 64-bit patterns (int64 -6 came back as -1).
                if keep:
                    out[b, r, c] = x[b, r, c]
                else:
                    out[b, r, c] = 0
