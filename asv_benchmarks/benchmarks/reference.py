"""The comparison workloads in every framework ``compare.py`` knows.

* ``jitgrad`` and ``torch``: the PyTorch-API code of ``common.py``, run with ``X = module``.
* ``jax`` and ``autograd`` (HIPS): one functional version per workload, written once against
  a NumPy-like module ``np`` (``jax.numpy`` / ``autograd.numpy``); JAX's whole step --
  ``value_and_grad`` and, for training steps, the SGD update -- runs under ``jax.jit``.
  Only the convolution differs: ``jax.lax.conv_general_dilated`` in JAX (what a JAX user
  writes), nine shifted slices and one ``tensordot`` (im2col) in autograd, which has no
  convolution of its own fit for this.
* ``numpy``: forward and backward written by hand (no autograd), a floor to read the
  others against.

``make_step(framework, workload)`` returns a zero-argument callable running one iteration
(one forward+backward, or one training step); ``None`` when the framework has no version of
that workload.  Every iteration computes fresh gradients: the PyTorch-API versions set
``.grad = None`` first, as ``optimizer.zero_grad()`` does, so nothing is accumulated.
The ``*_grads`` functions return the loss and gradients, for the tests that check the
references against PyTorch.
"""
import importlib

import numpy as np

if __package__:  # imported by asv as benchmarks.reference
    from . import common
else:  # by compare.py and the subprocess children, with this directory on sys.path
    import common
LR, W3_SIZES, W6_CHANNELS, W6_CLASSES, W6_IMAGE = (common.LR, common.W3_SIZES, common.W6_CHANNELS,
                                                   common.W6_CLASSES, common.W6_IMAGE)

FRAMEWORKS = ("jitgrad", "torch", "jax", "autograd", "numpy")
TORCH_API = ("jitgrad", "torch")


def load(framework):
    """The framework's module (``jax`` comes with float64 enabled); ImportError if absent."""
    if framework == "jax":
        jax = importlib.import_module("jax")
        jax.config.update("jax_enable_x64", True)  # W2 float64; float32 stays float32
        return jax
    if framework == "autograd":
        importlib.import_module("autograd.numpy")
        return importlib.import_module("autograd")
    return importlib.import_module(framework)


def make_step(framework, workload):
    """A zero-argument callable: one iteration of ``workload`` in ``framework`` (or None)."""
    mod = load(framework)
    if framework in TORCH_API:
        make = _TORCH_API.get(workload)
        return make(mod) if make else None
    if framework == "numpy":
        make = _NUMPY.get(workload)
        return make() if make else None
    make = _FUNCTIONAL.get(workload)
    return make(framework) if make else None


# ============================================================================ PyTorch API
def _fresh_backward(loss_fn, leaves):
    def step():
        for t in leaves:
            t.grad = None
        loss_fn().backward()
    return step


def _torch_w1(X, mode="fwd_bwd"):
    x = common.w1_input(X)
    if mode == "fwd":
        return lambda: common.w1_chain(x)
    if mode == "nograd":
        def step():
            with X.no_grad():
                common.w1_chain(x)
        return step
    return _fresh_backward(lambda: common.w1_chain(x), [x])


def _torch_w2(dtype):
    def make(X):
        (x,) = common.tensors(X, [common.w2_data(dtype=dtype)])
        return _fresh_backward(lambda: common.eltwise_chain(X, x), [x])
    return make


def _torch_w5(X):
    a, b, c = common.tensors(X, common.w5_data())
    return _fresh_backward(lambda: common.w5_chain(a, b, c), [a, b, c])


_TORCH_API = {
    "w1": _torch_w1,
    "w1_fwd": lambda X: _torch_w1(X, "fwd"),
    "w1_nograd": lambda X: _torch_w1(X, "nograd"),
    "w2_f32": _torch_w2("float32"),
    "w2_f64": _torch_w2("float64"),
    "w3": lambda X: common.w3_setup(X)[0],
    "w5": _torch_w5,
    "w6": lambda X: common.w6_setup(X)[0],
}


# ============================================================================ shared data
def mlp_params(sizes=W3_SIZES, seed=0, dtype=np.float32):
    """``[(W, b), ...]`` with PyTorch's nn.Linear layout (W is out x in) and init range."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(n_in)
        params.append((rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype),
                       rng.uniform(-bound, bound, n_out).astype(dtype)))
    return params


def cnn_params(seed=0):
    """``[(W1, b1), (W2, b2), (W3, b3)]``: two 3x3 convs (O, C, 3, 3) and the linear head."""
    rng = np.random.default_rng(seed)
    c0, c1, c2 = W6_CHANNELS
    n_flat = c2 * (W6_IMAGE // 2) ** 2
    shapes = [((c1, c0, 3, 3), c0 * 9), ((c2, c1, 3, 3), c1 * 9), ((W6_CLASSES, n_flat), n_flat)]
    params = []
    for shape, fan_in in shapes:
        bound = 1 / np.sqrt(fan_in)
        params.append((rng.uniform(-bound, bound, shape).astype(np.float32),
                       rng.uniform(-bound, bound, shape[0]).astype(np.float32)))
    return params


def one_hot(y, n, dtype=np.float32):
    out = np.zeros((y.shape[0], n), dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


# ============================================================================ functional
# Written once against ``np`` = jax.numpy or autograd.numpy.
def f_w1(np, x):
    return (np.exp(x * 2 + 1) * x).sum()


def f_w2(np, x):
    return (np.tanh(x) * (1 / (1 + np.exp(-x))) + x * x * 0.5).sum()


def f_w5(np, abc):
    a, b, c = abc
    return (np.tanh(a @ b) @ c).sum()


def f_cross_entropy(np, logits, y_onehot):
    m = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=1, keepdims=True)) + m
    return -((logits - lse) * y_onehot).sum() / logits.shape[0]


def f_w3(np, params, x, y_onehot):
    h = x
    for i, (W, b) in enumerate(params):
        if i:
            h = np.maximum(h, 0)
        h = h @ W.T + b
    return f_cross_entropy(np, h, y_onehot)


def f_w6(np, conv, params, x, y_onehot):
    (W1, b1), (W2, b2), (W3, b3) = params
    h = np.maximum(conv(x, W1) + b1.reshape(1, -1, 1, 1), 0)
    h = np.maximum(conv(h, W2) + b2.reshape(1, -1, 1, 1), 0)
    n, c, hh, ww = h.shape
    h = h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))
    logits = h.reshape(n, -1) @ W3.T + b3
    return f_cross_entropy(np, logits, y_onehot)


def conv3x3_slices(np, x, W):
    """3x3 convolution, padding 1, stride 1, as im2col: nine shifted slices, one tensordot."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), "constant")
    cols = np.stack([xp[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=2)
    out = np.tensordot(cols, W.reshape(W.shape[0], c, 9), axes=([1, 2], [1, 2]))  # n h w o
    return np.transpose(out, (0, 3, 1, 2))


def _functional_module(framework):
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        def conv(x, W):
            return jax.lax.conv_general_dilated(x, W, (1, 1), ((1, 1), (1, 1)),
                                                dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return jnp, conv
    import autograd.numpy as anp

    return anp, lambda x, W: conv3x3_slices(anp, x, W)


def functional_grad(framework, f):
    """``value_and_grad(f)`` (first argument), jitted in JAX."""
    if framework == "jax":
        import jax

        return jax.jit(jax.value_and_grad(f))
    import autograd

    return autograd.value_and_grad(f)


def functional_grads(framework, workload, *args):
    """``(loss, grads)`` of a functional workload, for the tests."""
    np_, conv = _functional_module(framework)
    f = {"w1": lambda x: f_w1(np_, x), "w2": lambda x: f_w2(np_, x), "w5": lambda abc: f_w5(np_, abc),
         "w3": lambda p, x, y: f_w3(np_, p, x, y),
         "w6": lambda p, x, y: f_w6(np_, conv, p, x, y)}[workload]
    return functional_grad(framework, f)(*args)


def _functional_gradient(workload, args_of):
    def make(framework):
        np_, _ = _functional_module(framework)
        f = {"w1": f_w1, "w2": f_w2, "w5": f_w5}[workload]
        vg = functional_grad(framework, lambda v: f(np_, v))
        arg = args_of(np_)
        if framework == "jax":
            import jax

            return lambda: jax.block_until_ready(vg(arg))
        return lambda: vg(arg)
    return make


def _functional_train(workload):
    def make(framework):
        np_, conv = _functional_module(framework)
        if workload == "w3":
            xd, yd = common.w3_data()
            params, n_classes = mlp_params(), W3_SIZES[-1]

            def loss(p, x, y):
                return f_w3(np_, p, x, y)
        else:
            xd, yd = common.w6_data()
            params, n_classes = cnn_params(), W6_CLASSES

            def loss(p, x, y):
                return f_w6(np_, conv, p, x, y)
        y1h = one_hot(yd, n_classes)
        if framework == "jax":
            import jax

            vg = jax.value_and_grad(loss)

            @jax.jit
            def train(p, x, y):
                value, grads = vg(p, x, y)
                return value, jax.tree.map(lambda w, g: w - LR * g, p, grads)

            state = {"p": jax.tree.map(np_.asarray, params)}
            x, y = np_.asarray(xd), np_.asarray(y1h)

            def step():
                value, state["p"] = train(state["p"], x, y)
                jax.block_until_ready(value)
            return step
        vg = functional_grad(framework, loss)

        def step():
            value, grads = vg(params, xd, y1h)
            for (W, b), (gW, gb) in zip(params, grads):
                W -= LR * gW
                b -= LR * gb
        return step
    return make


_FUNCTIONAL = {
    "w1": _functional_gradient("w1", lambda np_: np_.asarray(common.W1_VALUES, dtype=np.float32)),
    "w2_f32": _functional_gradient("w2", lambda np_: np_.asarray(common.w2_data(dtype="float32"))),
    "w2_f64": _functional_gradient("w2", lambda np_: np_.asarray(common.w2_data(dtype="float64"))),
    "w5": _functional_gradient("w5", lambda np_: tuple(np_.asarray(a) for a in common.w5_data())),
    "w3": _functional_train("w3"),
    "w6": _functional_train("w6"),
}


# ============================================================================ NumPy by hand
def numpy_w1_grads(x):
    z = np.exp(x * 2 + 1)
    return (z * x).sum(), z * (2 * x + 1)


def numpy_w2_grads(x):
    t = np.tanh(x)
    s = 1 / (1 + np.exp(-x))
    loss = (t * s + x * x * 0.5).sum()
    # d/dx: (1 - t^2) s + t s (1 - s) + x
    return loss, (1 - t * t) * s + t * s * (1 - s) + x


def numpy_w5_grads(a, b, c):
    t = np.tanh(a @ b)
    ones = np.ones((a.shape[0], c.shape[1]), a.dtype)
    loss = (t @ c).sum()
    dz = (ones @ c.T) * (1 - t * t)
    return loss, (dz @ b.T, a.T @ dz, t.T @ ones)


def _cross_entropy_grads(logits, y):
    """Mean cross-entropy of ``logits`` against integer labels ``y``, and d loss / d logits."""
    n = logits.shape[0]
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float((np.log(s[:, 0]) + m[:, 0] - logits[rows, y]).mean())
    e /= s
    e[rows, y] -= 1
    e *= 1 / n
    return loss, e


def matmul(a, b):
    return a @ b


def numpy_w3_grads(params, x, y, mm=matmul, timer=None):
    """Forward and backward of the W3 MLP by hand.  ``mm(a, b)`` does every product (the
    GEMM study swaps it); ``timer(label)`` (optional) is called after each phase."""
    tick = timer or (lambda label: None)
    hs = [x]
    for i, (W, b) in enumerate(params):
        h = mm(hs[-1], W.T)
        tick(f"gemm fwd {i}")
        h += b
        if i < len(params) - 1:
            np.maximum(h, 0, out=h)
        tick("elementwise")
        hs.append(h)
    loss, g = _cross_entropy_grads(hs[-1], y)
    tick("cross-entropy")
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        W = params[i][0]
        gW = mm(g.T, hs[i])
        tick(f"gemm dW {i}")
        gb = g.sum(axis=0)
        tick("elementwise")
        grads[i] = (gW, gb)
        if i:
            g = mm(g, W)
            tick(f"gemm dX {i}")
            g *= hs[i] > 0
            tick("elementwise")
    return loss, grads


def sgd_update(params, grads, lr=LR):
    for (W, b), (gW, gb) in zip(params, grads):
        gW *= lr
        W -= gW
        gb *= lr
        b -= gb


def _conv3x3_cols(x):
    """im2col for a 3x3 kernel, padding 1: (n*h*w, c*9), rows in (n, h, w) order."""
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2, w + 2), x.dtype)
    xp[:, :, 1:-1, 1:-1] = x
    cols = np.empty((n, h, w, c, 3, 3), x.dtype)
    for i in range(3):
        for j in range(3):
            cols[..., i, j] = xp[:, :, i:i + h, j:j + w].transpose(0, 2, 3, 1)
    return cols.reshape(n * h * w, c * 9)


def _col2im_3x3(dcols, shape):
    n, c, h, w = shape
    d = dcols.reshape(n, h, w, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, w + 2), dcols.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + w] += d[..., i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1]


def numpy_w6_grads(params, x, y):
    """Forward and backward of the W6 CNN by hand (im2col convolutions, 2x2 max-pool)."""
    (W1, b1), (W2, b2), (W3, b3) = params
    n = x.shape[0]

    def conv(inp, W, b):
        cols = _conv3x3_cols(inp)
        out = cols @ W.reshape(W.shape[0], -1).T + b  # (n*h*w, o)
        np.maximum(out, 0, out=out)
        return cols, out

    cols1, r1 = conv(x, W1, b1)
    h1 = r1.reshape(n, W6_IMAGE, W6_IMAGE, -1).transpose(0, 3, 1, 2)  # NCHW view
    cols2, r2 = conv(h1, W2, b2)
    c2 = r2.shape[1]
    h2 = r2.reshape(n, W6_IMAGE // 2, 2, W6_IMAGE // 2, 2, c2)  # n, i, di, j, dj, c
    pooled = h2.max(axis=(2, 4))  # n, i, j, c
    flat = pooled.transpose(0, 3, 1, 2).reshape(n, -1)  # PyTorch's flatten order (c, i, j)
    logits = flat @ W3.T + b3
    loss, g = _cross_entropy_grads(logits, y)
    gW3, gb3 = g.T @ flat, g.sum(axis=0)
    gpooled = (g @ W3).reshape(n, c2, W6_IMAGE // 2, W6_IMAGE // 2).transpose(0, 2, 3, 1)
    dr2 = (h2 == pooled[:, :, None, :, None, :]) * gpooled[:, :, None, :, None, :]
    dr2 = dr2.reshape(r2.shape)
    dr2 *= r2 > 0
    gW2 = (dr2.T @ cols2).reshape(W2.shape)
    gb2 = dr2.sum(axis=0)
    dh1 = _col2im_3x3(dr2 @ W2.reshape(W2.shape[0], -1), h1.shape)  # NCHW
    dr1 = dh1.transpose(0, 2, 3, 1).reshape(r1.shape) * (r1 > 0)
    gW1 = (dr1.T @ cols1).reshape(W1.shape)
    gb1 = dr1.sum(axis=0)
    return loss, [(gW1, gb1), (gW2, gb2), (gW3, gb3)]


def _numpy_gradient(fn, args):
    return lambda: fn(*args)


def _numpy_train(workload):
    def make():
        if workload == "w3":
            (x, y), params, grads_of = common.w3_data(), mlp_params(), numpy_w3_grads
        else:
            (x, y), params, grads_of = common.w6_data(), cnn_params(), numpy_w6_grads

        def step():
            _, grads = grads_of(params, x, y)
            sgd_update(params, grads)
        return step
    return make


_NUMPY = {
    "w1": lambda: _numpy_gradient(numpy_w1_grads, [np.asarray(common.W1_VALUES, np.float32)]),
    "w2_f32": lambda: _numpy_gradient(numpy_w2_grads, [common.w2_data(dtype="float32")]),
    "w2_f64": lambda: _numpy_gradient(numpy_w2_grads, [common.w2_data(dtype="float64")]),
    "w5": lambda: _numpy_gradient(numpy_w5_grads, common.w5_data()),
    "w3": _numpy_train("w3"),
    "w6": _numpy_train("w6"),
}
