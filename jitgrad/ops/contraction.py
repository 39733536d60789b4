"""Contractions built from other ops: ``outer`` and ``einsum``.

``einsum`` is PyTorch's own algorithm (aten/src/ATen/native/Linear.cpp) replayed with jitgrad's
differentiable ops: take diagonals for repeated labels, unsqueeze and permute every operand to
one label order, then contract operands pairwise, each pair as permute -> reshape -> ``bmm`` ->
view -> permute (labels found in a single operand are summed out first).  Why this and not
``np.einsum`` with hand-written backward einsums:

* the products run in BLAS (``bmm``) and every step is an existing op with its own jitted or
  BLAS backward, so there is no new kernel or backward formula to get wrong;
* gradients of any order come for free: each step has a double backward;
* the graph is PyTorch's (the same ``grad_fn`` chain: ``ViewBackward0 -> PermuteBackward0 ->
  BmmBackward0 ...``), and so are the rounding of the results and the error messages.

With three or more operands PyTorch contracts in the order ``opt_einsum`` picks when that
package is installed (left to right otherwise); jitgrad does the same, so both libraries agree
either way.
"""
from collections import deque

from .. import _dtype
from ..tensor import Tensor
from . import shape as sh
from .joining import diagonal
from .linalg import bmm
from .reduction import sum as _sum
from .registry import OpInfo, register


# ============================================================================ outer
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    if not isinstance(vec2, Tensor):
        raise TypeError(f"outer(): argument 'vec2' (position 2) must be Tensor, not {type(vec2).__name__}")
    for name, t in (("self", input), ("vec2", vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t._data.ndim}-D")
    return sh.reshape(input, (-1, 1)) * vec2  # PyTorch's formula (ViewBackward0 -> MulBackward0)


# ============================================================================ einsum
_LETTERS = 26
_TOTAL_LABELS = 2 * _LETTERS
_ELLIPSIS = _TOTAL_LABELS


def _to_subscript(label: str) -> int:
    return ord(label) - ord("A") if label.isupper() else ord(label) - ord("a") + _LETTERS


def _to_label(s: int) -> str:
    return chr(s + ord("A")) if s < _LETTERS else chr(s - _LETTERS + ord("a"))


def _is_letter(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z")


def _sublist_label(n) -> str:
    if n is Ellipsis:
        return "..."
    if 0 <= n < _LETTERS:
        return chr(ord("A") + n)
    if _LETTERS <= n < _TOTAL_LABELS:
        return chr(ord("a") + n - _LETTERS)
    raise ValueError("einsum(): subscript in subscript list is not within the valid range [0, 52)")


def einsum(*args) -> Tensor:
    """Einstein summation: ``einsum('ij,jk->ik', a, b)``, or the sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``."""
    if len(args) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    if isinstance(args[0], Tensor):
        equation = ",".join("".join(_sublist_label(s) for s in sub) for sub in args[1::2])
        if len(args) % 2 == 1:
            equation += "->" + "".join(_sublist_label(s) for s in args[-1])
            operands = args[:-1:2]
        else:
            operands = args[::2]
    else:
        equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]  # the old interface: the operands as one list
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): argument 'operands' must be tuple of Tensors, but found element of type "
                            f"{type(t).__name__} at pos {i}")
    path = _opt_einsum_path(equation, operands) if len(operands) > 2 else None
    return _einsum(equation, list(operands), path)


def _opt_einsum_path(equation: str, operands) -> list:
    """The pairwise contraction order PyTorch takes from opt_einsum (None without it)."""
    try:
        import opt_einsum
    except ImportError:
        return None
    pairs = opt_einsum.contract_path(equation, *[t._data for t in operands], optimize="auto")[0]
    return [i for pair in pairs for i in pair]


def _parse_operands(lhs: str, num_ops: int) -> list:
    # (_einsum walks the output's subscripts the same way: kept apart, as in PyTorch's einsum,
    # since the two raise different errors and the output's labels go to permutation slots)
    op_labels = [[] for _ in range(num_ops)]
    ell_in_input = False
    curr = 0
    i = 0
    while i < len(lhs):
        c = lhs[i]
        if c == " ":
            pass
        elif c == ".":
            if ell_in_input:
                raise RuntimeError(f"einsum(): found '.' for operand {curr} for which an ellipsis was already found")
            if not (i + 2 < len(lhs) and lhs[i + 1] == "." and lhs[i + 2] == "."):
                raise RuntimeError(f"einsum(): found '.' for operand {curr} that is not part of any ellipsis")
            i += 2
            op_labels[curr].append(_ELLIPSIS)
            ell_in_input = True
        elif c == ",":
            curr += 1
            if curr >= num_ops:
                raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
            ell_in_input = False
        else:
            if not _is_letter(c):
                raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            op_labels[curr].append(_to_subscript(c))
        i += 1
    if curr != num_ops - 1:
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    return op_labels


def _einsum(equation: str, operands: list, path) -> Tensor:
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    num_ops = len(operands)
    if path is not None:
        expected = 1 if num_ops == 1 else (num_ops - 1) * 2
        if len(path) != expected:
            raise RuntimeError(f"einsum(): expected contraction path given in path parameter to have size "
                               f"{expected} but got {len(path)}")
    arrow = equation.find("->")
    lhs = equation if arrow < 0 else equation[:arrow]
    op_labels = _parse_operands(lhs, num_ops)

    label_count = [0] * _TOTAL_LABELS
    ell_num_dim = 0  # the most dims any ellipsis covers
    for i, (op, labels) in enumerate(zip(operands, op_labels)):
        ndims = op._data.ndim
        nlabels = len(labels)
        has_ellipsis = False
        for label in labels:
            if label == _ELLIPSIS:
                nlabels -= 1
                has_ellipsis = True
                ell_num_dim = max(ell_num_dim, ndims - nlabels)
            else:
                label_count[label] += 1
        if (nlabels > ndims) if has_ellipsis else (nlabels != ndims):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({nlabels}) "
                + ("is more than the number of dimensions (" if has_ellipsis
                   else "does not match the number of dimensions (")
                + f"{ndims}) for operand {i}" + ("" if has_ellipsis else " and no ellipsis was given"))

    # Align every operand to the dims (output labels..., contracted labels...)
    label_perm_index = [-1] * _TOTAL_LABELS
    perm_index = 0
    ell_index = 0
    ell_in_output = False
    if arrow < 0:  # implicit output: the ellipsis, then the labels seen once, alphabetically
        perm_index = ell_num_dim
        ell_in_output = True
        for label in range(_TOTAL_LABELS):
            if label_count[label] == 1:
                label_perm_index[label] = perm_index
                perm_index += 1
    else:
        rhs = equation[arrow + 2:]
        # (the character walk of _parse_operands, with the output's own errors; see there)
        i = 0
        while i < len(rhs):
            c = rhs[i]
            if c == " ":
                pass
            elif c == ".":
                if ell_in_output:
                    raise RuntimeError("einsum(): found '.' for output but an ellipsis (...) was already found")
                if not (i + 2 < len(rhs) and rhs[i + 1] == "." and rhs[i + 2] == "."):
                    raise RuntimeError("einsum(): found '.' for output that is not part of any ellipsis (...)")
                i += 2
                ell_index = perm_index
                perm_index += ell_num_dim
                ell_in_output = True
            else:
                if not _is_letter(c):
                    raise RuntimeError(f"einsum(): invalid subscript given at index {len(lhs) + 2 + i} in the "
                                       "equation string, subscripts must be in [a-zA-Z]")
                s = _to_subscript(c)
                if label_count[s] == 0 or label_perm_index[s] != -1:
                    raise RuntimeError(f"einsum(): output subscript {c}" + (
                        " appears more than once in the output" if label_perm_index[s] > -1
                        else " does not appear in the equation for any input operand"))
                label_perm_index[s] = perm_index
                perm_index += 1
            i += 1
    out_num_dim = perm_index
    if not ell_in_output:
        ell_index = perm_index
        perm_index += ell_num_dim
    for label in range(_TOTAL_LABELS):
        if label_count[label] > 0 and label_perm_index[label] == -1:
            label_perm_index[label] = perm_index
            perm_index += 1

    # Check sizes, take diagonals of repeated labels, unsqueeze missing dims and permute
    label_size = [1] * _TOTAL_LABELS
    ell_sizes = [1] * ell_num_dim
    dim_counts = [0] * perm_index  # how many operands have a size != 1 at each aligned dim
    ops = deque()
    for i, (op, labels) in enumerate(zip(operands, op_labels)):
        permutation = [-1] * perm_index
        dim = 0
        for s in labels:
            if s == _ELLIPSIS:
                ndim = operands[i]._data.ndim - (len(labels) - 1)
                for j in range(ell_num_dim - ndim, ell_num_dim):
                    size = op._data.shape[dim]
                    if size != 1:
                        if ell_sizes[j] != 1 and ell_sizes[j] != size:
                            raise RuntimeError(
                                f"einsum(): dimension {dim} covered by ellipsis in operand {i}has size {size} which "
                                f"does not broadcast with previously seen ellipsis with size {ell_sizes[j]} for the "
                                "respective dimension")
                        ell_sizes[j] = size
                        dim_counts[ell_index + j] += 1
                    permutation[ell_index + j] = dim
                    dim += 1
            elif permutation[label_perm_index[s]] == -1:
                size = op._data.shape[dim]
                if size != 1:
                    if label_size[s] != 1 and label_size[s] != size:
                        raise RuntimeError(
                            f"einsum(): subscript {_to_label(s)} has size {size} for operand {i} which does not "
                            f"broadcast with previously seen size {label_size[s]}")
                    label_size[s] = size
                    dim_counts[label_perm_index[s]] += 1
                permutation[label_perm_index[s]] = dim
                dim += 1
            else:  # a repeated label: take the diagonal, moved to where the label first was
                prev = permutation[label_perm_index[s]]
                if op._data.shape[dim] != op._data.shape[prev]:
                    raise RuntimeError(
                        f"einsum(): subscript {_to_label(s)} is repeated for operand {i} but the sizes don't match, "
                        f"{op._data.shape[dim]} != {op._data.shape[prev]}")
                op = diagonal(op, 0, prev, dim)
                nd = op._data.ndim
                order = list(range(nd - 1))
                order.insert(prev, nd - 1)
                op = sh.permute(op, order)  # movedim(-1, prev)
        for j, val in enumerate(permutation):
            if val == -1:
                op = sh.unsqueeze(op, dim)
                permutation[j] = dim
                dim += 1
        ops.append(sh.permute(op, permutation))

    # Contract pairwise: left to right, or in the given path's order
    steps = iter(path) if path is not None else None
    while len(ops) > 1:
        i, j = 0, 1
        if steps is not None:
            i, j = next(steps), next(steps)
            if j < i:
                i, j = j, i
            if i == j or i < 0 or j >= len(ops):
                raise RuntimeError(f"einsum(): invalid contraction ({i}, {j}" + (
                    ") cannot contract an operand with itself" if i == j else ") operand index is out of bounds"))
        a, b = ops[i], ops[j]
        del ops[j]
        del ops[i]
        sum_dims, a_dims, b_dims = [], [], []
        for d in range(out_num_dim, perm_index):
            sa, sb = a._data.shape[d], b._data.shape[d]
            if sa != 1 and sb != 1:
                dim_counts[d] -= 1
                if dim_counts[d] == 1:
                    sum_dims.append(d)
                    dim_counts[d] = 0
            elif dim_counts[d] == 1:
                if sa != 1:
                    a_dims.append(d)
                    dim_counts[d] = 0
                elif sb != 1:
                    b_dims.append(d)
                    dim_counts[d] = 0
        if a_dims:
            a = _sum(a, a_dims, True)
        if b_dims:
            b = _sum(b, b_dims, True)
        res = _sumproduct_pair(a, b, sum_dims, True)
        if steps is not None:
            ops.append(res)
        else:
            ops.appendleft(res)

    # Remove the contracted dims (summing them out when there was a single operand)
    if perm_index - out_num_dim > 0:
        if num_ops > 1:
            return sh.view(ops[0], ops[0]._data.shape[:out_num_dim])
        return _sum(ops[0], list(range(out_num_dim, perm_index)))
    return ops[0]


def _sumproduct_pair(left: Tensor, right: Tensor, sum_dims: list, keepdim: bool) -> Tensor:
    """``(left * right).sum(sum_dims)`` for aligned operands, as one bmm (PyTorch's formulation)."""
    if not sum_dims:
        return left * right
    ndim = left._data.ndim
    summed = set(sum_dims)
    lro, lo, ro = [], [], []
    lro_size = lo_size = ro_size = sum_size = 1
    for i in range(ndim):
        sl, sr = left._data.shape[i] != 1, right._data.shape[i] != 1
        if i in summed:
            if sl and sr:
                if left._data.shape[i] != right._data.shape[i]:
                    raise RuntimeError("non-broadcast dimensions must match")
                sum_size *= left._data.shape[i]
            elif sl:
                left = _sum(left, i, True)
            elif sr:
                right = _sum(right, i, True)
        elif sl and sr:
            if left._data.shape[i] != right._data.shape[i]:
                raise RuntimeError("non-broadcast dimensions must match")
            lro.append(i)
            lro_size *= left._data.shape[i]
        elif sl:
            lo.append(i)
            lo_size *= left._data.shape[i]
        else:
            ro.append(i)
            ro_size *= right._data.shape[i]
    if left._data.dtype != right._data.dtype:
        raise RuntimeError(f"expected scalar type {_legacy(left._data.dtype)} but found {_legacy(right._data.dtype)}")
    out_size = ([left._data.shape[d] for d in lro] + [left._data.shape[d] for d in lo] + [1] * len(sum_dims)
                + [right._data.shape[d] for d in ro])
    lperm = lro + lo + list(sum_dims) + ro
    rperm = lro + list(sum_dims) + ro + lo
    operm = [0] * len(out_size)
    for pos, d in enumerate(lro + lo + list(sum_dims) + ro):
        operm[d] = pos
    left = sh.reshape(sh.permute(left, lperm), (lro_size, lo_size, sum_size))
    right = sh.reshape(sh.permute(right, rperm), (lro_size, sum_size, ro_size))
    res = sh.permute(sh.view(bmm(left, right), out_size), operm)
    if not keepdim:
        res = sh.view(res, [s for i, s in enumerate(res._data.shape) if i not in summed])
    return res


def _legacy(np_dtype) -> str:
    return _dtype.from_numpy_dtype(np_dtype)._legacy[:-6]


# ============================================================================ the table
def _x(rng, *shape):
    return rng.uniform(-1, 1, shape)


def _einsum_samples(rng):
    cases = [
        ("ij,jk->ik", (3, 4), (4, 2)),       # matrix product
        ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),  # batched
        ("ij,kj->ik", (3, 4), (2, 4)),       # against a transpose
        ("ij,ij->", (3, 4), (3, 4)),         # full contraction
        ("i,j->ij", (3,), (4,)),             # outer product
        ("ij->ji", (3, 4)),                  # transpose
        ("ii", (3, 3)),                      # trace (implicit output)
        ("ii->i", (3, 3)),                   # diagonal
        ("ij->j", (3, 4)),                   # sum over an axis
        ("...ij,...jk", (2, 3, 4), (4, 2)),  # ellipsis, implicit output
        ("bii->b", (2, 3, 3)),               # batched trace
        ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),  # three operands (opt_einsum path)
    ]
    return [((eq,) + tuple(_x(rng, *s) for s in shapes), {}) for eq, *shapes in cases]


register(OpInfo("outer", "MulBackward0", outer, aliases=("ger",),
                samples=lambda rng: [((_x(rng, 3), _x(rng, 4)), {})]))
register(OpInfo("einsum", "ViewBackward0", einsum, method=False, scalar_input=True,
                nodes=("MulBackward0", "PermuteBackward0", "SumBackward1"), samples=_einsum_samples))
