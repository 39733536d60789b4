"""Sorting/selection kernels: cummax / cummin with their indices.

They see the scanned dim as the middle axis of a C-contiguous ``(outer, n, inner)`` view (built
by ``ops/sorting.py``), so each compiles once per dtype whatever the input's ndim.
"""
import numpy as np

from ._jit import njit


@njit(cache=True, inline="always", error_model="numpy")
def _cum_extreme_middle(x, values, indices, take_max):
    # PyTorch's rule: an element replaces the running extreme when it is NaN or ties/beats it
    # (so ties and NaNs move the index to the latest one)
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            best = x[i, 0, k]
            at = 0
            values[i, 0, k] = best
            indices[i, 0, k] = 0
            for j in range(1, n):
                v = x[i, j, k]
                if v != v or (v >= best if take_max else v <= best):
                    best = v
                    at = j
                values[i, j, k] = best
                indices[i, j, k] = at


@njit(cache=True, error_model="numpy")
def cummax_middle(x, values, indices):
    _cum_extreme_middle(x, values, indices, True)


@njit(cache=True, error_model="numpy")
def cummin_middle(x, values, indices):
    _cum_extreme_middle(x, values, indices, False)


@njit(cache=True, inline="always", error_model="numpy")
def _gt_or_nan(a, b):
    return (a != a and b == b) or a > b


@njit(cache=True, error_model="numpy")
def kthvalue_middle(x, k, values, indices):
    # PyTorch's quick_select_template (ATen/native/SortingUtils.h) on each slice, swaps included,
    # so that ties give PyTorch's index; NaN is the largest value
    outer, n, inner = x.shape
    arr = np.empty(n, x.dtype)
    idx = np.empty(n, np.int64)
    for i in range(outer):
        for q in range(inner):
            for j in range(n):
                arr[j] = x[i, j, q]
                idx[j] = j
            lo = 0
            hi = n - 1
            while True:
                if hi <= lo:
                    break
                if hi == lo + 1:
                    if _gt_or_nan(arr[lo], arr[hi]):
                        _swap(arr, idx, lo, hi)
                    break
                p = lo + (hi - lo) // 2
                _swap(arr, idx, p, lo + 1)
                if _gt_or_nan(arr[lo + 1], arr[hi]):
                    _swap(arr, idx, lo + 1, hi)
                if _gt_or_nan(arr[lo], arr[hi]):
                    _swap(arr, idx, lo, hi)
                if _gt_or_nan(arr[lo + 1], arr[lo]):
                    _swap(arr, idx, lo + 1, lo)
                a = lo + 1
                b = hi
                piv = arr[lo]
                while True:
                    a += 1
                    while _gt_or_nan(piv, arr[a]):
                        a += 1
                    b -= 1
                    while _gt_or_nan(arr[b], piv):
                        b -= 1
                    if b < a:
                        break
                    _swap(arr, idx, a, b)
                _swap(arr, idx, lo, b)
                if b <= k:
                    lo = a
                if b >= k:
                    hi = b - 1
            values[i, q] = arr[k]
            indices[i, q] = idx[k]


@njit(cache=True, inline="always")
def _swap(arr, idx, a, b):
    t = arr[a]
    arr[a] = arr[b]
    arr[b] = t
    u = idx[a]
    idx[a] = idx[b]
    idx[b] = u


# ----------------------------------------------------------------------------- topk
# PyTorch's topk (ATen/native/TopKImpl.h) runs std::partial_sort (k * 64 <= n) or std::nth_element
# then std::sort of the first k - 1 on (value, index) pairs; ties come out in the order libstdc++'s
# algorithms leave them.  The helpers below are those algorithms, step for step, on two arrays.
@njit(cache=True, inline="always", error_model="numpy")
def _before(a, b, largest):
    if largest:
        return (a != a and b == b) or a > b
    return (a == a and b != b) or a < b


@njit(cache=True, inline="always")
def _lg(n):
    r = 0
    while n > 1:
        n >>= 1
        r += 1
    return r


@njit(cache=True, error_model="numpy")
def _push_heap(v, ix, first, hole, top, val, vi, largest):
    parent = (hole - 1) // 2
    while hole > top and _before(v[first + parent], val, largest):
        v[first + hole] = v[first + parent]
        ix[first + hole] = ix[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    v[first + hole] = val
    ix[first + hole] = vi


@njit(cache=True, error_model="numpy")
def _adjust_heap(v, ix, first, hole, length, val, vi, largest):
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _before(v[first + child], v[first + child - 1], largest):
            child -= 1
        v[first + hole] = v[first + child]
        ix[first + hole] = ix[first + child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        v[first + hole] = v[first + child - 1]
        ix[first + hole] = ix[first + child - 1]
        hole = child - 1
    _push_heap(v, ix, first, hole, top, val, vi, largest)


@njit(cache=True, error_model="numpy")
def _make_heap(v, ix, first, last, largest):
    length = last - first
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        _adjust_heap(v, ix, first, parent, length, v[first + parent], ix[first + parent], largest)
        if parent == 0:
            return
        parent -= 1


@njit(cache=True, error_model="numpy")
def _pop_heap(v, ix, first, last, result, largest):
    val = v[result]
    vi = ix[result]
    v[result] = v[first]
    ix[result] = ix[first]
    _adjust_heap(v, ix, first, 0, last - first, val, vi, largest)


@njit(cache=True, error_model="numpy")
def _heap_select(v, ix, first, middle, last, largest):
    _make_heap(v, ix, first, middle, largest)
    for i in range(middle, last):
        if _before(v[i], v[first], largest):
            _pop_heap(v, ix, first, middle, i, largest)


@njit(cache=True, error_model="numpy")
def _sort_heap(v, ix, first, last, largest):
    while last - first > 1:
        last -= 1
        _pop_heap(v, ix, first, last, last, largest)


@njit(cache=True, error_model="numpy")
def _partial_sort(v, ix, first, middle, last, largest):
    _heap_select(v, ix, first, middle, last, largest)
    _sort_heap(v, ix, first, middle, largest)


@njit(cache=True, inline="always")
def _iter_swap(v, ix, a, b):
    t = v[a]
    v[a] = v[b]
    v[b] = t
    u = ix[a]
    ix[a] = ix[b]
    ix[b] = u


@njit(cache=True, error_model="numpy")
def _move_median_to_first(v, ix, result, a, b, c, largest):
    if _before(v[a], v[b], largest):
        if _before(v[b], v[c], largest):
            _iter_swap(v, ix, result, b)
        elif _before(v[a], v[c], largest):
            _iter_swap(v, ix, result, c)
        else:
            _iter_swap(v, ix, result, a)
    elif _before(v[a], v[c], largest):
        _iter_swap(v, ix, result, a)
    elif _before(v[b], v[c], largest):
        _iter_swap(v, ix, result, c)
    else:
        _iter_swap(v, ix, result, b)


@njit(cache=True, error_model="numpy")
def _unguarded_partition_pivot(v, ix, first, last, largest):
    mid = first + (last - first) // 2
    _move_median_to_first(v, ix, first, first + 1, mid, last - 1, largest)
    lo = first + 1
    hi = last
    while True:
        while _before(v[lo], v[first], largest):
            lo += 1
        hi -= 1
        while _before(v[first], v[hi], largest):
            hi -= 1
        if not lo < hi:
            return lo
        _iter_swap(v, ix, lo, hi)
        lo += 1


@njit(cache=True, error_model="numpy")
def _unguarded_linear_insert(v, ix, last, largest):
    val = v[last]
    vi = ix[last]
    nxt = last - 1
    while _before(val, v[nxt], largest):
        v[last] = v[nxt]
        ix[last] = ix[nxt]
        last = nxt
        nxt -= 1
    v[last] = val
    ix[last] = vi


@njit(cache=True, error_model="numpy")
def _insertion_sort(v, ix, first, last, largest):
    if first == last:
        return
    for i in range(first + 1, last):
        if _before(v[i], v[first], largest):
            val = v[i]
            vi = ix[i]
            for j in range(i, first, -1):
                v[j] = v[j - 1]
                ix[j] = ix[j - 1]
            v[first] = val
            ix[first] = vi
        else:
            _unguarded_linear_insert(v, ix, i, largest)


@njit(cache=True, error_model="numpy")
def _introselect(v, ix, first, nth, last, largest):
    depth = _lg(last - first) * 2
    while last - first > 3:
        if depth == 0:
            _heap_select(v, ix, first, nth + 1, last, largest)
            _iter_swap(v, ix, first, nth)
            return
        depth -= 1
        cut = _unguarded_partition_pivot(v, ix, first, last, largest)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(v, ix, first, last, largest)


@njit(cache=True, error_model="numpy")
def _introsort_loop(v, ix, first, last, depth, largest):
    # libstdc++ recurses on the right part and loops on the left; the parts are disjoint, so a
    # stack of pending ranges gives the same result (and Numba's cache cannot load recursion)
    stack = np.empty((2 * _lg(last - first) + 2, 3), np.int64)
    stack[0, 0], stack[0, 1], stack[0, 2] = first, last, depth
    top = 1
    while top:
        top -= 1
        first, last, depth = stack[top, 0], stack[top, 1], stack[top, 2]
        while last - first > 16:
            if depth == 0:
                _partial_sort(v, ix, first, last, last, largest)
                break
            depth -= 1
            cut = _unguarded_partition_pivot(v, ix, first, last, largest)
            stack[top, 0], stack[top, 1], stack[top, 2] = cut, last, depth
            top += 1
            last = cut


@njit(cache=True, error_model="numpy")
def _std_sort(v, ix, first, last, largest):
    if first == last:
        return
    _introsort_loop(v, ix, first, last, _lg(last - first) * 2, largest)
    if last - first > 16:
        _insertion_sort(v, ix, first, first + 16, largest)
        for i in range(first + 16, last):
            _unguarded_linear_insert(v, ix, i, largest)
    else:
        _insertion_sort(v, ix, first, last, largest)


@njit(cache=True, error_model="numpy")
def topk_middle(x, k, largest, is_sorted, values, indices):
    outer, n, inner = x.shape
    v = np.empty(n, x.dtype)
    ix = np.empty(n, np.int64)
    for i in range(outer):
        for q in range(inner):
            for j in range(n):
                v[j] = x[i, j, q]
                ix[j] = j
            if k * 64 <= n:
                _partial_sort(v, ix, 0, k, n, largest)
            elif k > 0:
                _introselect(v, ix, 0, k - 1, n, largest)
                if is_sorted:
                    _std_sort(v, ix, 0, k - 1, largest)
            for j in range(k):
                values[i, j, q] = v[j]
                indices[i, j, q] = ix[j]
