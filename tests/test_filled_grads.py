"""FilledGrad (jitgrad/autograd/filled.py): a large tensor's full sum/mean starts backward with
one value instead of a written-out array; add/sub/mul use the value, every other consumer gets
the array.  Every case is checked against the same gradient computed without it."""
import numpy as np
import pytest

import jitgrad
from jitgrad.autograd import filled as F
from jitgrad.kernels.elementwise import PARALLEL_THRESHOLD

N = PARALLEL_THRESHOLD + 3  # large enough for a FilledGrad (and odd-sized)


def _leaf(seed, dtype=jitgrad.float64, n=N):
    rng = np.random.default_rng(seed)
    return jitgrad.tensor(rng.uniform(-2, 2, n), dtype=dtype, requires_grad=True)


def _grads(fn, *leaves):
    fn(*leaves).backward()
    return [t.grad.numpy().copy() for t in leaves]


def _reference(fn, *leaves):
    """The same gradients with the filled path off (every full reduction written out)."""
    saved = F.filled
    try:
        import jitgrad.ops.reduction as R
        R.filled = lambda v, shape, dtype: np.full(shape, v, dtype)
        copies = [t.detach().clone().requires_grad_() for t in leaves]
        return _grads(fn, *copies)
    finally:
        R.filled = saved


CASES = {
    "sum": lambda a, b: (a * b).sum(),
    "mean": lambda a, b: (a * b).mean(),
    "add_sub": lambda a, b: (a + b - a * 0.25).sum(),
    "scalar_chain": lambda a, b: ((a * 3.0 + 1.0) * 0.5 - b).sum(),
    "square": lambda a, b: (a * a + b).sum(),
    "tanh_sigmoid": lambda a, b: (a.tanh() * b.sigmoid() + a * a * 0.5).sum(),
    "two_sums": lambda a, b: (a + b).sum() + ((a + b) * 2).sum(),
    "same_node_twice": lambda a, b: _twice(a + b),
    "into_unary": lambda a, b: (a.exp() + b).sum(),
}


def _twice(z):
    return z.sum() * 0.5 + z.sum()  # z's AddBackward0 receives two filled gradients


@pytest.mark.parametrize("name", sorted(CASES))
def test_filled_path_gives_the_written_out_gradients(name):
    fn = CASES[name]
    got = _grads(fn, _leaf(1), _leaf(2))
    want = _reference(fn, _leaf(1), _leaf(2))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15, atol=0)


def test_filled_gradient_never_reaches_grad_hooks_or_capture():
    a = _leaf(3)
    z = a * 2.0
    seen = []
    z.register_hook(lambda g: seen.append(type(g._data)))
    z.retain_grad()
    z.sum().backward()
    assert seen == [np.ndarray] and type(z.grad._data) is np.ndarray and type(a.grad._data) is np.ndarray
    assert np.all(z.grad.numpy() == 1.0) and np.all(a.grad.numpy() == 2.0)
    (gz,) = jitgrad.autograd.grad((a * 3.0).sum(), [a])
    assert type(gz._data) is np.ndarray and np.all(gz.numpy() == 3.0)
    a.grad = None
    a.sum().backward()  # a leaf straight after the sum: AccumulateGrad gets a real, owned array
    assert type(a.grad._data) is np.ndarray and a.grad._data.flags.writeable and np.all(a.grad.numpy() == 1.0)
    a.grad.add_(1.0)
    assert np.all(a.grad.numpy() == 2.0)


def test_float32_and_promotion():
    a = _leaf(4, jitgrad.float32)
    b = _leaf(5, jitgrad.float64)
    (a * b).sum().backward()
    assert a.grad.dtype == jitgrad.float32 and b.grad.dtype == jitgrad.float64
    np.testing.assert_array_equal(a.grad.numpy(), b.detach().numpy().astype(np.float32))
    np.testing.assert_array_equal(b.grad.numpy(), a.detach().numpy().astype(np.float64))


def test_broadcasting_consumer_gets_the_written_out_gradient():
    a = _leaf(6)
    b = jitgrad.tensor([1.5], dtype=jitgrad.float64, requires_grad=True)
    (a * b).sum().backward()  # b's gradient is a reduction of the broadcast product
    np.testing.assert_allclose(b.grad.numpy(), [a.detach().numpy().sum()], rtol=1e-12)
    np.testing.assert_array_equal(a.grad.numpy(), np.full(N, 1.5))


def test_anomaly_mode_and_retain_graph():
    a = _leaf(7)
    with jitgrad.autograd.detect_anomaly():
        loss = (a * a).sum()
        loss.backward(retain_graph=True)
        loss.backward()
    np.testing.assert_allclose(a.grad.numpy(), 4 * a.detach().numpy(), rtol=1e-15)


def test_small_tensors_keep_plain_gradients():
    # below the threshold a full sum's gradient is written out: no FilledGrad is ever made
    made = []
    real = F.filled
    import jitgrad.ops.reduction as R
    R.filled = lambda *a: made.append(1) or real(*a)
    try:
        x = jitgrad.ones(PARALLEL_THRESHOLD - 1, requires_grad=True)
        (x * 2).sum().backward()
        assert made == [] and np.all(x.grad.numpy() == 2.0)
        y = jitgrad.ones(PARALLEL_THRESHOLD, requires_grad=True)  # ... and from the threshold on, one is
        (y * 2).sum().backward()
        assert made == [1] and np.all(y.grad.numpy() == 2.0)
    finally:
        R.filled = real


def test_large_float16_reductions_and_sums():
    # float16 has no jitgrad kernels: its large gradients stay on NumPy's paths
    x = jitgrad.ones(N, dtype=jitgrad.float16, requires_grad=True)
    (x * 2 + x * 3 + x).sum().backward()  # x used three times: the engine's deferred sum
    assert x.grad.dtype == jitgrad.float16 and np.all(x.grad.numpy() == 6.0)
    x.grad = None
    x.mean().backward()
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), 1 / N, rtol=1e-3)
    m = F.materialize(F.filled(1.5, (4,), np.float16))
    assert m.dtype == np.float16 and np.all(m == 1.5)
