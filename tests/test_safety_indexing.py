"""Issue #8, indexing part: no index crashes the process or gives a silently wrong answer.

Indices that reach a Numba kernel unchecked (an index changed through ``.data`` after the
forward, whose backward then wrote past the gradient buffer) run in a subprocess; the rest
check PyTorch's exception type and text (hard-coded: they were read off torch 2.13) and
PyTorch's values, so the file runs without torch.
"""
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import jitgrad as torch

OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
           "location. Please clone() the tensor before performing the operation.")
VERSION = "one of the variables needed for gradient computation has been modified by an inplace operation"
TWICE = "Trying to backward through the graph a second time"


def _x():
    return torch.arange(6.).reshape(2, 3)


# ---------------------------------------------------------------- indices changed after the forward
# Each case changes a saved index through ``.data`` (no version bump, as in PyTorch) and runs
# backward: before the fix index_select's backward wrote past its buffer (SIGSEGV at 10**9).
_CHANGED_INDEX_CASES = [
    ("x.index_select(0, i)", "[0, 1]", "i.data[1] = 10**9",
     "RuntimeError: index 1000000000 is out of bounds for dimension 0 with size 2"),
    ("x.index_select(0, i)", "[0, 1]", "i.data[1] = 10**6",
     "RuntimeError: index 1000000 is out of bounds for dimension 0 with size 2"),
    ("x.index_select(1, i)", "[0, 1]", "i.data[1] = -1",
     "RuntimeError: index -1 is out of bounds for dimension 1 with size 3"),
    ("x.gather(1, i)", "[[0, 1], [1, 2]]", "i.data[1, 1] = 7",
     "RuntimeError: index 7 is out of bounds for dimension 1 with size 3"),
    ("x.gather(1, i)", "[[0, 1], [1, 2]]", "i.data[1, 1] = -1",
     "RuntimeError: index -1 is out of bounds for dimension 1 with size 3"),
    ("x.scatter(1, i, s)", "[[0, 1]]", "i.data[0, 1] = 10**9",
     "RuntimeError: index 1000000000 is out of bounds for dimension 1 with size 3"),
    ("x.scatter_add(1, i, s)", "[[0, 1]]", "i.data[0, 1] = 10**9",
     "RuntimeError: index 1000000000 is out of bounds for dimension 1 with size 3"),
    ("x.scatter(1, i, 2.0)", "[[0, 1]]", "i.data[0, 1] = 10**9",
     "RuntimeError: index 1000000000 is out of bounds for dimension 1 with size 3"),
    ("x[i]", "[0, 1]", "i.data[1] = 10**9",
     "IndexError: index 1000000000 is out of bounds for dimension 0 with size 2"),
    ("x[:, i]", "[0, 1]", "i.data[1] = -10**9",
     "IndexError: index -1000000000 is out of bounds for dimension 1 with size 3"),
]


def test_index_changed_through_data_raises_in_backward_without_crashing():
    lines = ["import jitgrad as torch", "def run(make, setup, change):",
             "    x = torch.arange(6.).reshape(2, 3).requires_grad_()",
             "    s = torch.ones(1, 2, requires_grad=True)",
             "    i = torch.tensor(eval(setup))",
             "    y = eval(make)",
             "    exec(change)",
             "    try:",
             "        y.sum().backward()",
             "        print('no error', flush=True)",
             "    except Exception as e:",
             "        print(f'{type(e).__name__}: {e}', flush=True)"]
    lines += [f"run({make!r}, {setup!r}, {change!r})" for make, setup, change, _ in _CHANGED_INDEX_CASES]
    r = subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == [want for *_, want in _CHANGED_INDEX_CASES]


# ---------------------------------------------------------------- saved indices are versioned
@pytest.mark.parametrize("make", ["x[i]", "x[:, i]", "x.index_select(1, i)", "x.gather(1, i.expand(2, 2))",
                                  "x.scatter(1, i.expand(2, 2), 1.0)",
                                  "x.scatter_add(1, i.expand(2, 2), torch.ones(2, 2))"])
def test_saved_index_modified_in_place_raises_the_version_error(make):
    x = _x().requires_grad_()
    i = torch.tensor([0, 1])
    y = eval(make)
    i[1] = 2  # the gradient would go to the new index
    with pytest.raises(RuntimeError, match=re.escape(VERSION)):
        y.sum().backward()


def test_saved_mask_modified_in_place_raises_the_version_error():
    x = torch.arange(6.).requires_grad_()
    m = torch.tensor([True, False] * 3)
    y = x[m]
    m[1] = True
    with pytest.raises(RuntimeError, match=re.escape(VERSION)):
        y.sum().backward()


def test_setitem_index_modified_in_place_raises_the_version_error():
    x = _x().requires_grad_()
    z = x * 1
    i = torch.tensor([0])
    z[i] = torch.ones(3)
    i[0] = 1
    with pytest.raises(RuntimeError, match=re.escape(VERSION)):
        z.sum().backward()


@pytest.mark.parametrize("make", ["x[i]", "x.index_select(0, i)", "x.gather(0, i)", "x[x > 2]"])
def test_index_nodes_refuse_a_second_backward(make):
    x = torch.arange(6.).requires_grad_()
    i = torch.tensor([0, 1])
    y = eval(make)
    y.sum().backward(retain_graph=True)  # retained: a second pass works
    y.sum().backward()
    assert x.grad.sum().item() == 2 * y.numel()  # both passes accumulated
    with pytest.raises(RuntimeError, match=TWICE):
        y.sum().backward()


def test_index_double_backward_still_works():
    x = torch.arange(12.).reshape(3, 4).requires_grad_()
    (g,) = torch.autograd.grad(x[:, torch.tensor([0, 1])].pow(2).sum(), x, create_graph=True)
    g.sum().backward()
    assert g.tolist() == [[0., 2., 0., 0.], [8., 10., 0., 0.], [16., 18., 0., 0.]]
    assert x.grad.tolist() == [[2., 2., 0., 0.]] * 3


# ---------------------------------------------------------------- forward index checks
_ERRORS = [
    # (expression on x = arange(6.).reshape(2, 3), exception, PyTorch's message)
    ("x.gather(1, torch.tensor([[0, 7]]))", RuntimeError, "index 7 is out of bounds for dimension 1 with size 3"),
    ("x.gather(1, torch.tensor([[0, -1]]))", RuntimeError, "index -1 is out of bounds for dimension 1 with size 3"),
    ("x.gather(0, torch.tensor([[0, 1, 1, 1]]))", RuntimeError,
     "Size does not match at dimension 1 expected index [1, 4] to be no larger than self [2, 3] apart from "
     "dimension 0"),
    ("x.index_select(0, torch.tensor([0, 2]))", IndexError, "index out of range in self"),
    ("x.index_select(0, torch.tensor([0, -1]))", IndexError, "index out of range in self"),
    ("x.index_select(1, torch.tensor([0, 3]))", RuntimeError, "INDICES element is out of DATA bounds, id=3 axis_dim=3"),
    ("x.index_select(1, torch.tensor([-1], dtype=torch.int32))", RuntimeError,
     "INDICES element is out of DATA bounds, id=-1 axis_dim=3"),
    ("torch.arange(3.).index_select(0, torch.tensor([3]))", IndexError, "index out of range in self"),
    ("torch.empty(0, 3).index_select(0, torch.tensor([0]))", RuntimeError,
     "index_select(): self indexing axis dim should be positive"),
    ("x.scatter(1, torch.tensor([[0, 1]]), torch.ones(1, 1))", RuntimeError,
     "Expected index [1, 2] to be no larger than self [2, 3] apart from dimension 1 and to be no larger size than "
     "src [1, 1]"),
    ("x.scatter(1, torch.tensor([[0, -1]]), torch.ones(1, 2))", RuntimeError,
     "index -1 is out of bounds for dimension 1 with size 3"),
    ("x.scatter(1, torch.tensor([[0, 3]]), 2.0)", RuntimeError, "index 3 is out of bounds for dimension 1 with size 3"),
    ("x.scatter_add(1, torch.tensor([[0, 10**12]]), torch.ones(1, 2))", RuntimeError,
     "index 1000000000000 is out of bounds for dimension 1 with size 3"),
    ("torch.take_along_dim(x, torch.tensor([0, 6]))", RuntimeError,
     "index 6 is out of bounds for dimension 0 with size 6"),
    ("torch.take_along_dim(torch.empty(2, 0), torch.tensor([[0]]), 1)", RuntimeError, "ZeroDivisionError"),
    # getitem
    ("x[::-1]", ValueError, "step must be greater than zero"),
    ("x[:, ::-2]", ValueError, "step must be greater than zero"),
    ("x[::0]", ValueError, "slice step cannot be zero"),
    ("x[torch.tensor([1, 0], dtype=torch.int16)]", IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
    ("x[torch.tensor([1, 0], dtype=torch.int8)]", IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
    ("x[torch.tensor([1.0])]", IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
    ("x[1.5]", IndexError, "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                           "indices (got float)"),
    ("x[[float('nan')]]", RuntimeError, "value cannot be converted to type int64 without overflow"),
    ("x[5]", IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    ("x[-3]", IndexError, "index -3 is out of bounds for dimension 0 with size 2"),
    ("x[:, 3]", IndexError, "index 3 is out of bounds for dimension 1 with size 3"),
    ("x[[0, 5]]", IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    ("x[:, [0, 3]]", IndexError, "index 3 is out of bounds for dimension 0 with size 3"),  # PyTorch counts index tensors
    ("x[[0, 1], [0, 5]]", IndexError, "index 5 is out of bounds for dimension 1 with size 3"),
    ("x[[1, 2.5]]", IndexError, "index 2 is out of bounds for dimension 0 with size 2"),
    ("x[[0, 1], [0, 1, 2]]", IndexError,
     "shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]"),
    ("torch.zeros(2, 3, 4)[torch.ones(2, 3, dtype=torch.bool), [0, 5]]", IndexError,
     "shape mismatch: indexing tensors could not be broadcast together with shapes [6], [6], [2]"),
    ("x[2**62]", IndexError, "index 4611686018427387904 is out of bounds for dimension 0 with size 2"),
    ("x[10**20]", ValueError, "Overflow when unpacking long long"),
    ("x[[0, 2**63]]", ValueError, "Overflow when unpacking long long"),
    ("x[[0, 10**20]]", ValueError, "Overflow when unpacking long long"),
    ("x[torch.tensor([True, False, True])]", IndexError,
     "The shape of the mask [3] at index 0 does not match the shape of the indexed tensor [2, 3] at index 0"),
    ("x[:, torch.tensor([True, False])]", IndexError,
     "The shape of the mask [2] at index 0 does not match the shape of the indexed tensor [2, 3] at index 1"),
    ("torch.zeros(2, 3, 4)[0, :, torch.tensor([True, False])]", IndexError,
     "The shape of the mask [2] at index 0 does not match the shape of the indexed tensor [3, 4] at index 1"),
    ("torch.arange(6.)[torch.tensor([1, 2], dtype=torch.uint8)]", IndexError,
     "The shape of the mask [2] at index 0 does not match the shape of the indexed tensor [6] at index 0"),
    ("x[[[0, 1], [1]], 0]", ValueError, "expected sequence of length 2 at dim 1 (got 1)"),
    ("x[0, 0, 0]", IndexError, "too many indices for tensor of dimension 2"),
    ("torch.tensor(5.)[0]", IndexError, "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                                        "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"),
    ("x['a']", TypeError, "new(): invalid data type 'str'"),
]


@pytest.mark.parametrize("expr, exc, message", _ERRORS, ids=[e for e, *_ in _ERRORS])
def test_bad_index_raises_pytorchs_error(expr, exc, message):
    x = _x()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match="^" + re.escape(message) + "$"):
            eval(expr)


_SET_ERRORS = [
    ("x[::-1] = 1", ValueError, "step must be greater than zero"),
    ("x[5] = 1", IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    ("x[[0, 5]] = 1", IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    ("x[torch.tensor([0, -5])] = 1", IndexError, "index -5 is out of bounds for dimension 0 with size 2"),
    ("x[torch.tensor([True, False, True])] = 1", IndexError,
     "The shape of the mask [3] at index 0 does not match the shape of the indexed tensor [2, 3] at index 0"),
    ("x[0] = torch.ones(2)", RuntimeError, "The expanded size of the tensor (3) must match the existing size (2) at "
                                           "non-singleton dimension 0.  Target sizes: [3].  Tensor sizes: [2]"),
    ("x[0:2] = torch.ones(2, 2, 3)", RuntimeError,
     "expand(torch.FloatTensor{[2, 2, 3]}, size=[2, 3]): the number of sizes provided (2) must be greater or equal "
     "to the number of dimensions in the tensor (3)"),
    ("x[[0, 1]] = torch.ones(3, 3)", RuntimeError,
     "shape mismatch: value tensor of shape [3, 3] cannot be broadcast to indexing result of shape [2, 3]"),
    ("x[0] = [1.0, 2.0, 3.0]", TypeError, "can't assign a list to a torch.FloatTensor"),
    ("x[0] = np.ones(3)", TypeError, "can't assign a numpy.ndarray to a torch.FloatTensor"),
    ("y = torch.zeros(3, dtype=torch.long); y[0] = float('nan')", RuntimeError,
     "value cannot be converted to type int64_t without overflow"),
    ("y = torch.zeros(3, dtype=torch.int8); y[[0]] = 300", RuntimeError,
     "value cannot be converted to type int8_t without overflow"),
    # in place on an expanded tensor whose written elements share memory
    ("e = torch.ones(3).expand(2, 3); e.add_(1)", RuntimeError, OVERLAP),
    ("e = torch.ones(3).expand(2, 3); e += 1", RuntimeError, OVERLAP),
    ("e = torch.ones(3).expand(2, 3); e.copy_(torch.zeros(2, 3))", RuntimeError, OVERLAP),
    ("e = torch.ones(3).expand(2, 3); e.scatter_(1, torch.tensor([[0]]), 5.0)", RuntimeError, OVERLAP),
    ("e = torch.ones(3).expand(2, 3); e[:, 1] = 7", RuntimeError, OVERLAP),
    ("e = torch.ones(3).expand(2, 3); e[...] = torch.zeros(3)", RuntimeError, OVERLAP),
    ("e = torch.ones(3, 1).expand(3, 2); e[0].add_(1)", RuntimeError, OVERLAP),
    ("a = torch.ones(3, requires_grad=True).clone(); a.expand(2, 3).add_(1)", RuntimeError, OVERLAP),
]


@pytest.mark.parametrize("stmt, exc, message", _SET_ERRORS, ids=[s for s, *_ in _SET_ERRORS])
def test_bad_write_raises_pytorchs_error(stmt, exc, message):
    x = _x()
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        exec(stmt, {"torch": torch, "np": np, "x": x})
    assert x.tolist() == [[0., 1., 2.], [3., 4., 5.]]  # nothing written


# ---------------------------------------------------------------- values PyTorch gives
def test_list_and_odd_indices_read_as_pytorch_reads_them():
    x = _x()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert x[[[0, 1], [1, 0]]].tolist() == [1., 3.]  # a short list of lists is a tuple of indices
        assert x[[0, [1]]].tolist() == [1.]
        assert x[[[0, 1]]].tolist() == [[0., 1., 2.], [3., 4., 5.]]
    assert any("non-tuple sequence" in str(w.message) for w in caught)
    assert x[[0, 1], [1, 0]].tolist() == [1., 3.]
    assert x[([0, 1], [1, 0])].tolist() == [1., 3.]
    assert x[[]].shape == (0, 3) and x[:, []].shape == (2, 0) and x[[], []].shape == (0,)
    assert x[[1.9]].tolist() == [[3., 4., 5.]] and x[[-1.9]].tolist() == [[3., 4., 5.]]  # truncated
    assert x[[True, False]].tolist() == [[0., 1., 2.]]
    assert x[torch.tensor([1, 0], dtype=torch.int32)].tolist() == [[3., 4., 5.], [0., 1., 2.]]
    assert x[torch.tensor(1, dtype=torch.int16)].tolist() == [3., 4., 5.]  # 0-d: an int
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        assert x[torch.tensor([1, 0, 1, 0, 0, 1], dtype=torch.uint8).reshape(2, 3)].tolist() == [0., 2., 5.]
    assert x[5:10].shape == (0, 3) and x[:2**70].shape == (2, 3) and x[2**70:].shape == (0, 3)


def test_writes_through_an_expanded_tensor_that_pytorch_allows():
    e = torch.ones(3).expand(2, 3)
    e[0] = 5  # one row of distinct elements: fine
    assert e.tolist() == [[5., 5., 5.]] * 2
    e[0, 1] = 7
    e.fill_(2)
    assert e.tolist() == [[2., 2., 2.]] * 2
    e.zero_()
    with pytest.warns(UserWarning, match="Use of index_put_ on expanded tensors is deprecated"):
        e[[0]] = torch.tensor([1., 2., 3.])
    assert e.tolist() == [[1., 2., 3.]] * 2
    s = torch.ones(3, 1).expand(3, 1)  # size-1 dims: nothing overlaps
    s.add_(1)
    assert s.tolist() == [[2.], [2.], [2.]]


def test_setitem_values():
    x = torch.arange(12.).reshape(3, 4)
    x[[0, 1], 1:3] = torch.tensor([[1., 2.], [3., 4.]])
    x[0, [0, 1]] = torch.tensor(7.)
    x[..., 0] = 9
    x[None, 1] = torch.ones(1, 4)
    x[2:] = torch.ones(1, 1, 4) * 5  # leading 1s of the value are dropped
    x[2, 3] = torch.full((1, 1), 6.)
    assert x.tolist() == [[9., 7., 2., 3.], [1., 1., 1., 1.], [5., 5., 5., 6.]]
    z = torch.zeros(3)
    z[torch.tensor([0, 0, 1])] = torch.tensor([1., 2., 3.])  # the last write wins
    assert z.tolist() == [2., 3., 0.]


def test_scatter_family_duplicates_empty_and_strided_arguments():
    # expected values: PyTorch 2.13's
    w = torch.arange(12.).reshape(3, 4)
    x = torch.zeros(3, 4, requires_grad=True)
    s = torch.arange(6.).reshape(2, 3).requires_grad_()
    i = torch.tensor([[0, 0, 2], [1, 1, 1]])
    y = x.scatter_add(0, i, s)  # repeated indices accumulate
    (y * w).sum().backward()
    assert y.tolist() == [[0., 1., 0., 0.], [3., 4., 5., 0.], [0., 0., 2., 0.]]
    assert x.grad.tolist() == w.tolist() and s.grad.tolist() == [[0., 1., 10.], [4., 5., 6.]]
    x.grad = None  # transposed index and src
    s2 = torch.arange(6.).reshape(3, 2).requires_grad_()
    y = x.scatter_add(1, i.t(), s2.t().t())
    (y * w).sum().backward()
    assert y.tolist() == [[0., 1., 0., 0.], [2., 3., 0., 0.], [0., 5., 4., 0.]]
    assert s2.grad.tolist() == [[0., 1.], [4., 5.], [10., 9.]]
    # zero-stride (expanded) index and src
    y = torch.zeros(3, 4).scatter_add(1, torch.tensor([2]).expand(3, 2), torch.ones(3, 3).expand(3, 3))
    assert y.tolist() == [[0., 0., 2., 0.]] * 3
    x.grad = None
    y = x.scatter(1, torch.tensor([2]).expand(3, 2), torch.arange(4.).reshape(2, 2).t().repeat(2, 1))
    (y * w).sum().backward()
    assert y.tolist() == [[0., 0., 2., 0.], [0., 0., 3., 0.], [0., 0., 2., 0.]]
    assert x.grad.tolist() == [[0., 1., 0., 3.], [4., 5., 0., 7.], [8., 9., 0., 11.]]
    x.grad = None  # src larger than the index: only its leading block is used
    y = x.scatter_add(1, torch.tensor([[3, 1, 3], [0, 0, 0]]), torch.ones(5, 5))
    (y * w).sum().backward()
    assert y.tolist() == [[0., 1., 0., 2.], [3., 0., 0., 0.], [0., 0., 0., 0.]] and x.grad.tolist() == w.tolist()
    x.grad = None  # empty index: nothing written, gradients still flow
    s3 = torch.ones(0, 3, requires_grad=True)
    y = x.scatter_add(1, torch.zeros(0, 3, dtype=torch.long), s3)
    y.sum().backward()
    assert y.tolist() == [[0.] * 4] * 3 and x.grad.tolist() == [[1.] * 4] * 3 and s3.grad.shape == (0, 3)
    x = torch.arange(12.).reshape(3, 4).requires_grad_()  # repeated indices accumulate in backward
    (x.index_select(1, torch.tensor([3, 3, 0, 3])) * w).sum().backward()
    assert x.grad.tolist() == [[2., 0., 0., 4.], [6., 0., 0., 16.], [10., 0., 0., 28.]]
    x.grad = None
    (x.gather(1, torch.tensor([[3, 3], [0, 3], [1, 1]])) * torch.arange(6.).reshape(3, 2)).sum().backward()
    assert x.grad.tolist() == [[0., 0., 0., 1.], [2., 0., 0., 3.], [0., 9., 0., 0.]]
    y = x.scatter(1, torch.tensor([[0, 0], [1, 1], [2, 2]]), torch.arange(6.).reshape(3, 2))  # the last write wins
    assert y.tolist() == [[1., 1., 2., 3.], [4., 3., 6., 7.], [8., 9., 5., 11.]]


def test_take_along_dim_wraps_indices_like_pytorch():
    x = torch.arange(6.).reshape(2, 3).requires_grad_()
    i = torch.tensor([[0, -1, 7]])
    y = torch.take_along_dim(x, i, 1)  # PyTorch 2.13 takes the indices modulo the size here
    i[0, 0] = 2  # its index is a new tensor: changing the caller's does not matter
    y.sum().backward()
    assert y.tolist() == [[0., 2., 1.], [3., 5., 4.]] and x.grad.tolist() == [[1., 1., 1.]] * 2


def test_matches_live_torch():
    real = pytest.importorskip("torch")
    for mod in (torch, real):
        x = mod.arange(24.).reshape(2, 3, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = [x[[0, 1], :, [0, 1]], x[:, [0, 1], [1, 2]], x[0, ..., [1, 2]], x[[[1, 0], [0, 1]]],
                   x[mod.tensor([1, 0], dtype=mod.uint8)], x[[0, [1]]]]
        if mod is torch:
            mine = [g.tolist() for g in got]
        else:
            assert mine == [g.tolist() for g in got]


# ---------------------------------------------------------------- float16 (Numba has no float16)
@pytest.mark.parametrize("index, weight, expected", [
    # values read off torch 2.13 (its gradient stays float16)
    (lambda: torch.tensor([1, 0, 1]), [0.1, 0.2, 0.3],
     [[0.0999755859375, 0.199951171875, 0.300048828125], [0.199951171875, 0.39990234375, 0.60009765625]]),
    (lambda: torch.tensor([[True, False, True], [False, True, True]]), [1.0, 2.0, 3.0, 4.0],
     [[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]),
    (lambda: (torch.tensor([0, 1, 1]), torch.tensor([2, 0, 0])), [3.0, 3.0, 3.0], [[0.0, 0.0, 3.0], [6.0, 0.0, 0.0]]),
])
def test_float16_advanced_index_backward(index, weight, expected):
    # IndexBackward0 scatter-adds in float32 and casts back (it raised Numba's NotImplementedError: float16)
    x = torch.arange(6., dtype=torch.float16).reshape(2, 3).requires_grad_()
    y = x[index()] * torch.tensor(weight, dtype=torch.float16)
    (g,) = torch.autograd.grad(y.sum(), (x,))
    assert g.dtype == torch.float16
    assert g.tolist() == expected
    (g2,) = torch.autograd.grad(x[index()].sum(), (x,), create_graph=True)  # the differentiable path
    assert g2.dtype == torch.float16


def test_float16_index_put_and_gather_family_backward():
    x = torch.arange(6., dtype=torch.float16).reshape(2, 3).requires_grad_()
    y = x * 1
    y[torch.tensor([1, 1])] = x[0] * 2  # index_put_ (CopySlices)
    out = [y, x.gather(1, torch.tensor([[0, 0], [2, 1]])), x.index_select(1, torch.tensor([2, 2])),
           x.scatter_add(1, torch.tensor([[0, 0]]), x[:1, :2])]
    grads = torch.autograd.grad(sum(o.float().sum() for o in out), (x,))
    assert grads[0].dtype == torch.float16
    assert grads[0].tolist() == [[9.0, 7.0, 8.0], [1.0, 2.0, 4.0]]  # torch 2.13
