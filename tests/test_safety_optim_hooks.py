"""Issue #8, part D: hooks, ``.grad``/``.data``, optimizers and concurrent accumulation never
crash or silently compute a wrong answer; bad input gets PyTorch's error.

The expected messages and values were taken from torch 2.13.0 and are hard-coded, so the file
runs without torch; ``test_messages_match_live_torch`` re-checks them when torch is installed.
Cases that used to crash the process run in a subprocess.
"""
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import jitgrad as T
from jitgrad import nn, optim

SIZE_CHANGED = "hook '<lambda>' has changed the size of value"
TYPE_CHANGED = "hook '<lambda>' has changed the type of value (was torch.FloatTensor got torch.DoubleTensor)"


def _run(code: str, timeout: int = 120) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"rc={r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"
    return r.stdout


def test_crash_cases_raise_in_subprocess():
    # each of these used to segfault or write out of bounds: the kernels trusted the gradient's size
    code = r'''
import jitgrad as torch
from jitgrad import nn, optim

def show(f):
    try:
        f()
        print("OK")
    except Exception as e:
        print(type(e).__name__ + ": " + str(e))

def hook_then_momentum():
    p = nn.Parameter(torch.ones(20_000_000))
    p.register_hook(lambda g: torch.ones(1))
    (p * 2).sum().backward()
    optim.SGD([p], lr=0.1, momentum=0.9).step()

def new_data_old_state(cls, **kw):
    p = nn.Parameter(torch.ones(4))
    o = cls([p], lr=0.1, **kw)
    p.grad = torch.ones(4)
    o.step()
    p.data = torch.ones(2_000_000)
    p.grad = torch.ones(2_000_000)
    o.step()

def loaded_state_of_another_shape(cls, **kw):
    p = nn.Parameter(torch.ones(4))
    o = cls([p], lr=0.1, **kw)
    p.grad = torch.ones(4)
    o.step()
    q = nn.Parameter(torch.ones(2_000_000))
    o2 = cls([q], lr=0.1, **kw)
    o2.load_state_dict(o.state_dict())
    q.grad = torch.ones(2_000_000)
    o2.step()

def small_grad_data(cls, **kw):  # a gradient that does not broadcast to the parameter
    p = nn.Parameter(torch.ones(2_000_000))
    o = cls([p], lr=0.1, **kw)
    p.grad = torch.ones(2_000_000)
    p.grad.data = torch.ones(3)
    o.step()

show(hook_then_momentum)
for cls, kw in [(optim.SGD, dict(momentum=0.9)), (optim.Adam, {}), (optim.AdamW, dict(amsgrad=True)),
                (optim.RMSprop, dict(momentum=0.9, centered=True)), (optim.Adagrad, {})]:
    show(lambda: new_data_old_state(cls, **kw))
    show(lambda: loaded_state_of_another_shape(cls, **kw))
    show(lambda: small_grad_data(cls, **kw))
'''
    lines = _run(code).splitlines()
    assert lines[0] == "RuntimeError: " + SIZE_CHANGED
    state = ("RuntimeError: The size of tensor a (4) must match the size of tensor b (2000000) "
             "at non-singleton dimension 0")
    grad = ("RuntimeError: The size of tensor a (2000000) must match the size of tensor b (3) "
            "at non-singleton dimension 0")
    assert lines[1:] == [state, state, grad] * 5


# ---------------------------------------------------------------------- hooks

def _leaf_hook(ret):
    p = nn.Parameter(T.ones(5))
    p.register_hook(lambda g: ret)
    (p * 2).sum().backward()
    return p.grad


def _nonleaf_hook(ret):
    p = nn.Parameter(T.ones(5))
    y = p * 2
    y.register_hook(lambda g: ret)
    (y * 3).sum().backward()
    return p.grad


def _retain_hook(ret):
    p = nn.Parameter(T.ones(5))
    y = p * 2
    y.retain_grad()
    y.register_hook(lambda g: ret)
    (y * 3).sum().backward()
    return y.grad


def _prehook(ret):
    p = nn.Parameter(T.ones(5))
    y = p * 2
    y.grad_fn.register_prehook(lambda go: ret)
    (y * 3).sum().backward()
    return p.grad


def _acc_prehook(ret):
    p = nn.Parameter(T.ones(5))
    y = p * 2
    y.grad_fn.next_functions[0][0].register_prehook(lambda go: ret)
    (y * 3).sum().backward()
    return p.grad


def _posthook(ret):
    p = nn.Parameter(T.ones(5))
    y = p * 2
    y.grad_fn.register_hook(lambda gi, go: ret)
    (y * 3).sum().backward()
    return p.grad


def _split_prehook(ret):
    p = nn.Parameter(T.ones(4))
    a, b = p.split(2)
    a.grad_fn.register_prehook(lambda go: ret)
    (a * 3 + b).sum().backward()
    return p.grad


def _create_graph_leaf_hook(ret):
    p = T.ones(3, requires_grad=True)
    p.register_hook(lambda g: ret)
    (p * p).sum().backward(create_graph=True)


def _create_graph_prehook(ret):
    p = T.ones(3, requires_grad=True)
    y = p * p
    y.grad_fn.register_prehook(lambda g: ret)
    y.sum().backward(create_graph=True)


def _autograd_grad_hook(ret):
    p = T.ones(3, requires_grad=True)
    y = p * 2
    y.register_hook(lambda g: ret)
    T.autograd.grad(y.sum(), p)


def _named_hook():
    def h(g):
        return T.ones(1)

    p = nn.Parameter(T.ones(5))
    p.register_hook(h)
    (p * 2).sum().backward()


class _CallableHook:
    def __call__(self, g):
        return T.ones(1)


def _unnamed_hook():
    p = nn.Parameter(T.ones(3))
    p.register_hook(_CallableHook())
    (p * 2).sum().backward()


HOOK_ERRORS = [
    ("leaf size", lambda: _leaf_hook(T.ones(1)), RuntimeError, SIZE_CHANGED),
    ("leaf same numel", lambda: _leaf_hook(T.ones(5, 1)), RuntimeError, SIZE_CHANGED),
    ("leaf dtype", lambda: _leaf_hook(T.ones(5, dtype=T.float64)), RuntimeError, TYPE_CHANGED),
    ("leaf int dtype", lambda: _leaf_hook(T.ones(5, dtype=T.int64)), RuntimeError,
     "hook '<lambda>' has changed the type of value (was torch.FloatTensor got torch.LongTensor)"),
    ("leaf not a tensor", lambda: _leaf_hook(3), TypeError, "expected Variable, but hook returned 'int'"),
    ("named hook", _named_hook, RuntimeError, "hook 'h' has changed the size of value"),
    ("callable hook", _unnamed_hook, RuntimeError, "hook '<unknown>' has changed the size of value"),
    ("non-leaf size", lambda: _nonleaf_hook(T.ones(1)), RuntimeError, SIZE_CHANGED),
    ("non-leaf dtype", lambda: _nonleaf_hook(T.ones(5, dtype=T.float64)), RuntimeError, TYPE_CHANGED),
    ("non-leaf not a tensor", lambda: _nonleaf_hook(3), TypeError, "expected Variable, but hook returned 'int'"),
    ("retain_grad + hook", lambda: _retain_hook(T.ones(1)), RuntimeError, SIZE_CHANGED),
    ("pre-hook size", lambda: _prehook((T.ones(1),)), RuntimeError, SIZE_CHANGED),
    ("pre-hook dtype", lambda: _prehook((T.ones(5, dtype=T.float64),)), RuntimeError, TYPE_CHANGED),
    ("pre-hook count", lambda: _prehook((T.ones(5), T.ones(5))), RuntimeError,
     "hook '<lambda>' has returned an incorrect number of values (got 2, but expected 1)"),
    ("pre-hook empty", lambda: _prehook(()), RuntimeError,
     "hook '<lambda>' has returned an incorrect number of values (got 0, but expected 1)"),
    ("pre-hook list", lambda: _prehook([T.ones(5)]), TypeError, "expected tuple, but hook returned 'list'"),
    ("pre-hook tensor", lambda: _prehook(T.ones(5)), TypeError, "expected tuple, but hook returned 'Tensor'"),
    ("pre-hook int item", lambda: _prehook((3,)), TypeError, "expected Variable, but hook returned 'int'"),
    ("AccumulateGrad pre-hook", lambda: _acc_prehook((T.ones(1),)), RuntimeError, SIZE_CHANGED),
    ("split pre-hook", lambda: _split_prehook((T.ones(2), T.ones(3))), RuntimeError, SIZE_CHANGED),
    ("post-hook size", lambda: _posthook((T.ones(1), None)), RuntimeError, SIZE_CHANGED),
    ("post-hook dtype", lambda: _posthook((T.ones(5, dtype=T.float64), None)), RuntimeError, TYPE_CHANGED),
    ("post-hook count", lambda: _posthook((T.ones(5),)), RuntimeError,
     "hook '<lambda>' has returned an incorrect number of values (got 1, but expected 2)"),
    ("post-hook None slot", lambda: _posthook((T.ones(5), T.ones(5))), RuntimeError,
     "can't replace a None gradient with a non-None value"),
    ("post-hook list", lambda: _posthook([T.ones(5), None]), TypeError, "expected tuple, but hook returned 'list'"),
    ("create_graph leaf hook", lambda: _create_graph_leaf_hook(T.ones(1)), RuntimeError, SIZE_CHANGED),
    ("create_graph pre-hook", lambda: _create_graph_prehook((T.ones(1),)), RuntimeError, SIZE_CHANGED),
    ("autograd.grad hook", lambda: _autograd_grad_hook(T.ones(1)), RuntimeError, SIZE_CHANGED),
]


@pytest.mark.parametrize("name,fn,exc,msg", HOOK_ERRORS, ids=[c[0] for c in HOOK_ERRORS])
def test_hook_results_are_checked(name, fn, exc, msg):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == msg


def test_valid_hook_results_still_work():
    # a non-contiguous or expanded result of the right size and type is accepted (as in PyTorch),
    # and .grad gets a writable contiguous copy of it
    for ret in (T.ones(10)[::2], T.ones(1).expand(5)):
        g = _leaf_hook(ret)
        assert g.tolist() == [1.0] * 5 and g.is_contiguous() and g._data.flags.writeable
    assert _posthook((T.ones(5), None)).tolist() == [1.0] * 5
    # hooks that drop every gradient: the node passes None on, nothing is accumulated
    assert _prehook((None,)) is None
    assert _split_prehook((None, None)) is None
    assert _acc_prehook((None,)) is None


def test_post_hook_gets_a_writable_gradient_of_a_filled_sum():
    from jitgrad.kernels.elementwise import PARALLEL_THRESHOLD

    x = T.ones(PARALLEL_THRESHOLD, requires_grad=True)
    y = (x * 2).sum()

    def double(grad_inputs, grad_outputs):
        grad_inputs[0].mul_(2)  # in place on what the hook is given: must not be a read-only view

    y.grad_fn.register_hook(double)
    y.backward()
    assert float(x.grad[0]) == 4.0 and float(x.grad[-1]) == 4.0


# ---------------------------------------------------------------------- .grad / .data setters

GRAD_DTYPE = ("attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype 'Float'. The gradient "
              "must match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's "
              "grad_dtype attribute with a specific dtype, or None to allow any dtype. Set grad_dtype with caution. "
              "Diverging the dtypes of a tensor and its gradient may break downstream systems that assume they match.")


def _set_grad(value):
    p = nn.Parameter(T.ones(4))
    p.grad = value
    return p


def _set_data(value):
    p = nn.Parameter(T.ones(4))
    p.data = value
    return p


def _self_grad():
    p = nn.Parameter(T.ones(4))
    p.grad = p


SETTER_ERRORS = [
    ("grad size", lambda: _set_grad(T.ones(3)), RuntimeError,
     "attempting to assign a gradient of size '[3]' to a tensor of size '[4]'. Please ensure that the gradient "
     "and the tensor are the same size"),
    ("grad dtype", lambda: _set_grad(T.ones(4, dtype=T.float64)), RuntimeError, GRAD_DTYPE),
    ("grad dtype and size", lambda: _set_grad(T.ones(3, dtype=T.float64)), RuntimeError, GRAD_DTYPE),
    ("grad int", lambda: _set_grad(5), TypeError, "assigned grad expected to be a Tensor or None but got grad of type int"),
    ("grad ndarray", lambda: _set_grad(np.ones(4)), TypeError,
     "assigned grad expected to be a Tensor or None but got grad of type numpy.ndarray"),
    ("grad self", _self_grad, RuntimeError, "can't assign Variable as its own grad"),
    ("data int", lambda: _set_data(5), TypeError, "Variable data has to be a tensor, but got int"),
    ("data ndarray", lambda: _set_data(np.ones(4)), TypeError, "Variable data has to be a tensor, but got numpy.ndarray"),
    ("data list", lambda: _set_data([1.0, 2.0]), TypeError, "Variable data has to be a tensor, but got list"),
    ("data int dtype", lambda: _set_data(T.ones(4, dtype=T.int64)), RuntimeError,
     "data set to a tensor that requires gradients must be floating point or complex dtype"),
]


@pytest.mark.parametrize("name,fn,exc,msg", SETTER_ERRORS, ids=[c[0] for c in SETTER_ERRORS])
def test_setters_check_like_pytorch(name, fn, exc, msg):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == msg


def test_setters_accept_what_pytorch_accepts():
    assert _set_grad(T.ones(8)[::2]).grad.stride() == (2,)
    assert _set_data(T.ones(6)).shape == (6,)
    assert _set_data(T.ones(4, dtype=T.float64)).dtype == T.float64
    q = T.ones(4, dtype=T.int64)
    q.grad = T.ones(4, dtype=T.int64)
    assert q.grad.dtype == T.int64


def _backward_twice_after(change):
    p = nn.Parameter(T.ones(4))
    (p * 2).sum().backward()
    change(p)
    (p * 2).sum().backward()
    return p.grad


def test_accumulating_into_a_replaced_grad():
    cases = [
        (lambda p: setattr(p, "data", T.ones(6)), RuntimeError,
         "The size of tensor a (4) must match the size of tensor b (6) at non-singleton dimension 0"),
        (lambda p: setattr(p.grad, "data", T.ones(1)), RuntimeError,
         "output with shape [1] doesn't match the broadcast shape [4]"),
        (lambda p: setattr(p.grad, "data", T.ones(4, dtype=T.int64)), RuntimeError,
         "result type Float can't be cast to the desired output type Long"),
        (lambda p: setattr(p.grad, "data", T.ones(1).expand(4)), RuntimeError,
         "unsupported operation: more than one element of the written-to tensor refers to a single memory "
         "location. Please clone() the tensor before performing the operation."),
    ]
    for change, exc, msg in cases:
        with pytest.raises(exc) as info:
            _backward_twice_after(change)
        assert str(info.value) == msg
    # a retained non-leaf .grad whose .data was replaced
    p = nn.Parameter(T.ones(5))
    y = p * 2
    y.retain_grad()
    (y * 3).sum().backward(retain_graph=True)
    y.grad.data = T.ones(3)
    with pytest.raises(RuntimeError, match=r"^The size of tensor a \(3\) must match the size of tensor b \(5\) at "
                                           r"non-singleton dimension 0$"):
        (y * 3).sum().backward()
    # what PyTorch accepts: a larger .grad the gradient broadcasts into, a .grad of another float dtype
    assert _backward_twice_after(lambda p: setattr(p.grad, "data", T.ones(2, 4))).tolist() == [[3.0] * 4] * 2
    g = _backward_twice_after(lambda p: setattr(p.grad, "data", T.ones(4, dtype=T.float64)))
    assert g.dtype == T.float64 and g.tolist() == [3.0] * 4


# ---------------------------------------------------------------------- optimizers

OPTIMIZERS = [
    (optim.SGD, {}),
    (optim.SGD, dict(momentum=0.9)),
    (optim.SGD, dict(momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.Adam, {}),
    (optim.Adam, dict(amsgrad=True)),
    (optim.AdamW, {}),
    (optim.RMSprop, {}),
    (optim.RMSprop, dict(momentum=0.9, centered=True)),
    (optim.Adagrad, {}),
]
# torch 2.13.0, foreach=False: p = ones(4), lr=0.1, p.grad = full(0.5) then p.grad.data = ones(1), two steps
BROADCAST_GRAD_RESULT = [0.8, 0.71, 0.4969, 0.8, 0.8, 0.7981, -0.7089, -1.6256, 0.8293]
IDS = [f"{c.__name__}-{'-'.join(kw) or 'plain'}" for c, kw in OPTIMIZERS]


def _opt(cls, kw, n=4):
    p = nn.Parameter(T.ones(n))
    return p, cls([p], lr=0.1, **kw)


@pytest.mark.parametrize("i", range(len(OPTIMIZERS)), ids=IDS)
def test_optimizer_broadcasts_a_smaller_gradient(i):
    cls, kw = OPTIMIZERS[i]
    p, o = _opt(cls, kw)
    p.grad = T.full((4,), 0.5)
    p.grad.data = T.ones(1)
    o.step()
    o.step()
    assert np.allclose(p.detach().numpy(), BROADCAST_GRAD_RESULT[i], atol=1e-4)
    assert p.grad.shape == (1,)


@pytest.mark.parametrize("i", range(len(OPTIMIZERS)), ids=IDS)
def test_optimizer_checks_shapes(i):
    cls, kw = OPTIMIZERS[i]
    wd_first = kw.get("weight_decay", 0) != 0

    p, o = _opt(cls, kw)
    p.grad = T.full((4,), 0.5)
    p.grad.data = T.ones(3)  # does not broadcast
    with pytest.raises(RuntimeError) as info:
        o.step()
    a, b = (3, 4) if wd_first else (4, 3)
    assert str(info.value) == f"The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension 0"

    p, o = _opt(cls, kw)
    p.grad = T.full((4,), 0.5)
    p.grad.data = T.ones(2, 4)  # broadcasts, but to a larger shape
    with pytest.raises(RuntimeError, match=r"^output with shape \[4\] doesn't match the broadcast shape \[2, 4\]$"):
        o.step()

    p, o = _opt(cls, kw)
    p.grad = T.full((4,), 0.5)
    o.step()
    p.data = T.ones(6)  # a parameter of a new size: its state is of the old one
    p.grad = T.ones(6)
    if cls is optim.SGD and not kw:
        o.step()  # no state: PyTorch's step works
        assert np.allclose(p.detach().numpy(), 0.9)
    else:
        with pytest.raises(RuntimeError) as info:
            o.step()
        assert str(info.value) == "The size of tensor a (4) must match the size of tensor b (6) at non-singleton dimension 0"


def test_optimizer_non_contiguous_grad_and_dtypes():
    p = nn.Parameter(T.ones(3, 2))
    o = optim.SGD([p], lr=0.1)
    p.grad = T.arange(6.0).reshape(2, 3).t()  # a transposed view as .grad
    o.step()
    assert np.allclose(p.detach().numpy(), [[1.0, 0.7], [0.9, 0.6], [0.8, 0.5]])
    # Adam's lerp needs one dtype, as PyTorch's does
    for cls in (optim.Adam, optim.AdamW):
        p, o = _opt(cls, {})
        p.grad = T.full((4,), 0.5)
        p.grad.data = T.ones(4, dtype=T.float64)
        with pytest.raises(RuntimeError, match="^expected dtype float for `end` but got dtype double$"):
            o.step()
    # SGD accepts another dtype (PyTorch computes in the parameter's)
    p, o = _opt(optim.SGD, dict(momentum=0.9))
    p.grad = T.full((4,), 0.5)
    p.grad.data = T.ones(4, dtype=T.float64)
    o.step()
    assert np.allclose(p.detach().numpy(), 0.9)


def test_optimizer_integer_parameter_is_an_error_not_a_silent_no_op():
    cast = (RuntimeError, "result type Float can't be cast to the desired output type Long")
    expected = {
        optim.SGD: (RuntimeError, "For integral input tensors, argument alpha must not be a floating point number."),
        optim.Adam: (NotImplementedError, "\"lerp_kernel_scalar\" not implemented for 'Long'"),
        optim.AdamW: cast, optim.RMSprop: cast, optim.Adagrad: cast,
    }
    for cls, (exc, msg) in expected.items():
        p = T.ones(4, dtype=T.int64)
        p.grad = T.ones(4, dtype=T.int64)
        with pytest.raises(exc) as info:
            cls([p], lr=0.1).step()
        assert str(info.value) == msg
        assert p.tolist() == [1, 1, 1, 1]


def test_optimizer_on_expanded_parameter_and_zero_grad_of_expanded_grad():
    for cls in (optim.SGD, optim.Adam):
        p = nn.Parameter(T.ones(4))
        p.data = T.ones(1).expand(4)
        p.grad = T.ones(4)
        with pytest.raises(RuntimeError, match="^unsupported operation: more than one element of the written-to"):
            cls([p], lr=0.1).step()
    p = nn.Parameter(T.ones(4))
    p.grad = T.ones(1).expand(4)
    optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0] * 4


# ---------------------------------------------------------------------- concurrent accumulation

def test_concurrent_backward_into_one_leaf_is_exact():
    n, threads, rounds = 2_000_000, 4, 10
    x = T.zeros(n, requires_grad=True)
    x.grad = T.zeros(n)
    seed = T.ones(n)
    barrier = threading.Barrier(threads)

    def work():
        barrier.wait()
        for _ in range(rounds):
            x.backward(seed)  # (almost only the in-place add: the largest window for a race)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert int((x.grad._data != threads * rounds).sum()) == 0


def test_accumulation_is_serialised():
    # deterministic: while the accumulation lock is held, another thread's backward cannot add
    tensor_module = sys.modules["jitgrad.tensor"]  # (jitgrad.tensor is also the factory function)

    x = T.zeros(1000, requires_grad=True)
    (x * 2).sum().backward()
    done = threading.Event()

    def work():
        (x * 3).sum().backward()
        done.set()

    with tensor_module._accumulate_lock:
        t = threading.Thread(target=work)
        t.start()
        time.sleep(0.2)
        assert not done.is_set() and float(x.grad[0]) == 2.0
    t.join()
    assert float(x.grad[0]) == 5.0


def test_messages_match_live_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    p = tnn.Parameter(torch.ones(5))
    p.register_hook(lambda g: torch.ones(1))
    with pytest.raises(RuntimeError) as info:
        (p * 2).sum().backward()
    assert str(info.value) == SIZE_CHANGED
    p = tnn.Parameter(torch.ones(4))
    with pytest.raises(RuntimeError) as info:
        p.grad = torch.ones(4, dtype=torch.float64)
    assert str(info.value) == GRAD_DTYPE
    results = []
    for cls, kw in OPTIMIZERS:
        p = tnn.Parameter(torch.ones(4))
        o = getattr(torch.optim, cls.__name__)([p], lr=0.1, foreach=False, **kw)
        p.grad = torch.full((4,), 0.5)
        p.grad.data = torch.ones(1)
        o.step()
        o.step()
        results.append(float(p[0]))
    assert np.allclose(results, BROADCAST_GRAD_RESULT, atol=1e-4)
