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
# The gather / scatter / index_select family is one walk over the index with a different move at
# each position: ``move(a, b, i, j, t, l)`` copies between ``a``'s row ``t`` (its dim of size ``n``,
# the one the index points into) and ``b``'s row ``j``.  The moves and walks are inlined, so each
# kernel compiles to the loop it would be written out by hand (measured: the same speed).
@njit(cache=True, inline="always", error_model="numpy")
def _gather_move(x, out, i, j, t, l):
    out[i, j, l] = x[i, t, l]


@njit(cache=True, inline="always", error_model="numpy")
def _scatter_add_move(out, src, i, j, t, l):
    out[i, t, l] += src[i, j, l]


@njit(cache=True, inline="always", error_model="numpy")
def _scatter_move(out, src, i, j, t, l):
    out[i, t, l] = src[i, j, l]


@njit(cache=True, inline="always", error_model="numpy")
def _fill_move(out, value, i, j, t, l):
    out[i, t, l] = value


@njit(cache=True, inline="always", error_model="numpy")
def _walk_index_middle(index, move, a, b):
    # index: (outer, k, inner), one row of ``a`` per position; moves up to the first index out
    # of range and returns its flat position (-1 when all are in range).  (_walk_index_vector is
    # the same walk for a 1-D index, which is checked whole before anything moves.)
    outer, k, inner = index.shape
    n = a.shape[1]
    for i in range(outer):
        for j in range(k):
            for l in range(inner):
                t = index[i, j, l]
                if t < 0 or t >= n:
                    return (i * k + j) * inner + l
                move(a, b, i, j, t, l)
    return -1


@njit(cache=True, error_model="numpy")
def gather_middle(x, index, out):
    # out[i, j, l] = x[i, index[i, j, l], l]
    return _walk_index_middle(index, _gather_move, x, out)


@njit(cache=True, error_model="numpy")
def scatter_add_middle(out, index, src):
    # out[i, index[i, j, l], l] += src[i, j, l]: repeated indices accumulate (gather's gradient)
    return _walk_index_middle(index, _scatter_add_move, out, src)


@njit(cache=True, error_model="numpy")
def scatter_middle(out, index, src):
    # out[i, index[i, j, l], l] = src[i, j, l] (the last write wins, as on PyTorch's CPU)
    return _walk_index_middle(index, _scatter_move, out, src)


@njit(cache=True, error_model="numpy")
def scatter_fill_middle(out, index, value):
    # out[i, index[i, j, l], l] = value
    return _walk_index_middle(index, _fill_move, out, value)


# --------------------------------------------------------------------------- index_select
@njit(cache=True, inline="always", error_model="numpy")
def _walk_index_vector(index, move, a, b):
    # index: (k,), the same row of ``a`` for every i and l of ``b`` (outer, k, inner).  Every
    # index is checked before anything is moved; returns the first one out of range (or -1).
    # (Not _walk_index_middle: one index per row, checked whole first, as PyTorch's index_select.)
    n = a.shape[1]
    for j in range(index.size):
        if index[j] < 0 or index[j] >= n:
            return j
    outer, k, inner = b.shape
    for i in range(outer):
        for j in range(k):
            t = index[j]
            for l in range(inner):
                move(a, b, i, j, t, l)
    return -1


@njit(cache=True, error_model="numpy")
def index_select_middle(x, index, out):
    # out[i, j, l] = x[i, index[j], l]
    return _walk_index_vector(index, _gather_move, x, out)


@njit(cache=True, error_model="numpy")
def index_add_middle(out, index, src):
    # out[i, index[j], l] += src[i, j, l]: index_select's gradient (repeated indices accumulate).
    # The index may have been changed (through ``.data``) since the forward checked it, so it
    # is checked again (by the walk) before anything is written.
    return _walk_index_vector(index, _scatter_add_move, out, src)


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
    # (a plain triple loop: the shape of statistics.logsumexp_middle_backward, not its logic)
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
