"""Recurrent layers (``nn.RNN LSTM GRU`` and their cells) against PyTorch: the same weights after
the same seed, outputs and every gradient; plus gradcheck, PyTorch's errors and reprs."""
import numpy as np
import pytest

import jitgrad

# (class, constructor args, kwargs, input shape, hidden state given)
MODULE_CASES = [
    ("RNN", (3, 4), {}, (5, 2, 3), False),
    ("RNN", (3, 4), {"nonlinearity": "relu", "batch_first": True}, (2, 5, 3), True),
    ("RNN", (3, 4, 2), {"bidirectional": True}, (5, 2, 3), True),
    ("RNN", (3, 4), {"bias": False}, (5, 3), True),
    ("LSTM", (3, 4), {}, (5, 2, 3), False),
    ("LSTM", (3, 4), {"batch_first": True}, (2, 5, 3), True),
    ("LSTM", (3, 4, 2), {"bidirectional": True}, (5, 2, 3), False),
    ("LSTM", (3, 4), {}, (5, 3), True),
    ("LSTM", (3, 4), {"bias": False, "bidirectional": True}, (5, 3), False),
    ("LSTM", (3, 5, 2), {"proj_size": 2, "bidirectional": True, "batch_first": True}, (2, 5, 3), True),
    ("LSTM", (3, 4, 2), {"dropout": 0.3}, (5, 2, 3), True),  # run in eval mode: no dropout
    ("GRU", (3, 4), {}, (5, 2, 3), False),
    ("GRU", (3, 4, 2), {"batch_first": True}, (2, 5, 3), True),
    ("GRU", (3, 4), {"bidirectional": True}, (5, 2, 3), True),
    ("GRU", (3, 4), {}, (5, 3), True),
    ("GRU", (3, 4, 3), {"bias": False, "bidirectional": True}, (5, 2, 3), False),
]

CELL_CASES = [
    ("RNNCell", (3, 4), {}, (2, 3), False),
    ("RNNCell", (3, 4), {"bias": False, "nonlinearity": "relu"}, (2, 3), True),
    ("RNNCell", (3, 4), {}, (3,), True),
    ("LSTMCell", (3, 4), {}, (2, 3), False),
    ("LSTMCell", (3, 4), {}, (2, 3), True),
    ("LSTMCell", (3, 4), {"bias": False}, (3,), True),
    ("GRUCell", (3, 4), {}, (2, 3), False),
    ("GRUCell", (3, 4), {}, (2, 3), True),
    ("GRUCell", (3, 4), {"bias": False}, (3,), True),
]

TOL = {"float32": 1e-5, "float64": 1e-10}


def _case_id(case):
    cls, args, kwargs, shape, given = case
    opts = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{cls}{args}{opts}-x{'x'.join(map(str, shape))}{'-hx' if given else ''}"


def _build(lib, cls, args, kwargs, dtype):
    lib.manual_seed(7)
    return getattr(lib.nn, cls)(*args, **kwargs, dtype=getattr(lib, dtype))


def _hidden_arrays(module, cls, shape, rng, dtype):
    """Random initial states of the right shapes (a list: [h] or [h, c])."""
    if cls.endswith("Cell"):
        lead = shape[:-1]
        sizes = [(*lead, module.hidden_size)] * (2 if cls == "LSTMCell" else 1)
    else:
        layers = module.num_layers * (2 if module.bidirectional else 1)
        batch = () if len(shape) == 2 else ((shape[0],) if module.batch_first else (shape[1],))
        out = module.proj_size or module.hidden_size
        sizes = [(layers, *batch, out)] + ([(layers, *batch, module.hidden_size)] if cls == "LSTM" else [])
    return [rng.standard_normal(s).astype(dtype) for s in sizes]


def _run(lib, module, cls, x, hidden):
    """The module's outputs as a flat list, and the leaf inputs whose gradients are compared."""
    xt = lib.tensor(x, requires_grad=True)
    hs = [lib.tensor(h, requires_grad=True) for h in hidden]
    hx = None if not hs else (tuple(hs) if cls in ("LSTM", "LSTMCell") else hs[0])
    result = module(xt, hx)
    if cls == "LSTM":
        outs = [result[0], *result[1]]
    elif cls == "LSTMCell":
        outs = list(result)
    elif cls.endswith("Cell"):
        outs = [result]
    else:
        outs = [result[0], result[1]]
    return outs, [xt, *hs]


def _compare(torch, case, dtype):
    cls, args, kwargs, shape, given = case
    tm = _build(torch, cls, args, kwargs, dtype)
    jm = _build(jitgrad, cls, args, kwargs, dtype)
    tm.eval()
    jm.eval()
    # the same parameters, in the same order, drawn bit for bit as PyTorch draws them
    tparams, jparams = dict(tm.named_parameters()), dict(jm.named_parameters())
    assert list(jparams) == list(tparams)
    for name, p in tparams.items():
        assert jparams[name].dtype == getattr(jitgrad, dtype)
        np.testing.assert_array_equal(jparams[name].detach().numpy(), p.detach().numpy(), err_msg=name)

    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(dtype)
    hidden = _hidden_arrays(tm, cls, shape, rng, dtype) if given else []
    t_outs, t_leaves = _run(torch, tm, cls, x, hidden)
    j_outs, j_leaves = _run(jitgrad, jm, cls, x, hidden)
    tol = TOL[dtype]
    assert len(j_outs) == len(t_outs)
    for j, t in zip(j_outs, t_outs):
        assert tuple(j.shape) == tuple(t.shape)
        np.testing.assert_allclose(j.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)

    # backward from random weights on every output (h_n and c_n included)
    weights = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in t_outs]
    torch.stack([(o * torch.tensor(w)).sum() for o, w in zip(t_outs, weights)]).sum().backward()
    jitgrad.stack([(o * jitgrad.tensor(w)).sum() for o, w in zip(j_outs, weights)]).sum().backward()
    for name, p in tparams.items():
        np.testing.assert_allclose(jparams[name].grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    for j, t in zip(j_leaves, t_leaves):
        np.testing.assert_allclose(j.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", MODULE_CASES + CELL_CASES, ids=_case_id)
def test_matches_torch(torch, case, dtype):
    _compare(torch, case, dtype)


def test_same_weights_after_double(torch):
    """Built in float32 then ``.double()`` (the usual script), as PyTorch."""
    torch.manual_seed(0)
    tm = torch.nn.LSTM(4, 6, 2, bidirectional=True).double()
    jitgrad.manual_seed(0)
    jm = jitgrad.nn.LSTM(4, 6, 2, bidirectional=True).double()
    tsd, jsd = tm.state_dict(), jm.state_dict()
    assert list(jsd) == list(tsd)
    for k in tsd:
        np.testing.assert_array_equal(jsd[k].numpy(), tsd[k].numpy())


def test_dropout_between_layers():
    jitgrad.manual_seed(0)
    m = jitgrad.nn.GRU(3, 4, 3, dropout=0.5)
    x = jitgrad.randn(6, 2, 3)
    out_train, _ = m(x)
    m.eval()
    out_eval, _ = m(x)
    out_eval2, _ = m(x)
    assert not np.allclose(out_train.detach().numpy(), out_eval.detach().numpy())
    np.testing.assert_array_equal(out_eval.detach().numpy(), out_eval2.detach().numpy())
    m.train()
    out, h = m(x)
    (out.sum() + h.sum()).backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in m.parameters())


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_gradcheck(cls):
    jitgrad.manual_seed(0)
    m = getattr(jitgrad.nn, cls)(2, 3, 2, bidirectional=True, dtype=jitgrad.float64)
    x = jitgrad.randn(3, 2, 2, dtype=jitgrad.float64, requires_grad=True)
    h0 = jitgrad.randn(4, 2, 3, dtype=jitgrad.float64, requires_grad=True)
    params = list(m.parameters())[:4]  # (one layer's worth keeps the check fast)

    def f(x, h0, *ps):
        hx = (h0, h0.tanh()) if cls == "LSTM" else h0
        out, hn = m(x, hx)
        return out, (hn[0] if cls == "LSTM" else hn)

    assert jitgrad.autograd.gradcheck(f, (x, h0, *params))
    assert jitgrad.autograd.gradgradcheck(lambda x, h0: f(x, h0)[0], (x, h0))


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_gradgradcheck(cls):
    jitgrad.manual_seed(0)
    m = getattr(jitgrad.nn, cls)(2, 3, dtype=jitgrad.float64)
    x = jitgrad.randn(2, 2, dtype=jitgrad.float64, requires_grad=True)
    h = jitgrad.randn(2, 3, dtype=jitgrad.float64, requires_grad=True)

    def f(x, h):
        out = m(x, (h, h * 2) if cls == "LSTMCell" else h)
        return out[1] if cls == "LSTMCell" else out

    assert jitgrad.autograd.gradcheck(f, (x, h))
    assert jitgrad.autograd.gradgradcheck(f, (x, h))


def test_empty_batch_and_module_api():
    m = jitgrad.nn.LSTM(3, 4, 2, bidirectional=True)
    out, (h, c) = m(jitgrad.randn(5, 0, 3))
    assert tuple(out.shape) == (5, 0, 8) and tuple(h.shape) == (4, 0, 4) and tuple(c.shape) == (4, 0, 4)
    m.flatten_parameters()
    assert m._flat_weights_names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                         "weight_ih_l0_reverse"]
    assert len(m.all_weights) == 4 and m.all_weights[1][0] is m.weight_ih_l0_reverse
    assert m._flat_weights[0] is m.weight_ih_l0


REPRS = [
    (("LSTM", (3, 4, 2), {"bias": False, "batch_first": True, "dropout": 0.5, "bidirectional": True,
                          "proj_size": 2}),
     "LSTM(3, 4, proj_size=2, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"),
    (("RNN", (3, 4), {"nonlinearity": "relu"}), "RNN(3, 4)"),
    (("GRU", (3, 4, 1, False), {}), "GRU(3, 4, bias=False)"),
    (("RNNCell", (3, 4, False, "relu"), {}), "RNNCell(3, 4, bias=False, nonlinearity=relu)"),
    (("LSTMCell", (3, 4), {}), "LSTMCell(3, 4)"),
    (("GRUCell", (3, 4), {"bias": False}), "GRUCell(3, 4, bias=False)"),
]


@pytest.mark.parametrize("spec, text", REPRS, ids=[t for _, t in REPRS])
def test_repr(T, spec, text):
    cls, args, kwargs = spec
    assert repr(getattr(T.nn, cls)(*args, **kwargs)) == text


ERRORS = [
    (lambda T: T.nn.LSTM(3, 4)(T.randn(5, 2, 4)), RuntimeError,
     "input.size(-1) must be equal to input_size. Expected 3, got 4"),
    (lambda T: T.nn.LSTM(3, 4)(T.randn(5, 2, 3), (T.randn(1, 3, 4), T.randn(1, 3, 4))), RuntimeError,
     "Expected hidden[0] size (1, 2, 4), got [1, 3, 4]"),
    (lambda T: T.nn.LSTM(3, 4)(T.randn(5, 2, 3), (T.randn(1, 2, 4), T.randn(1, 2, 5))), RuntimeError,
     "Expected hidden[1] size (1, 2, 4), got [1, 2, 5]"),
    (lambda T: T.nn.LSTM(3, 4)(T.randn(5, 2, 3), (T.randn(2, 4), T.randn(1, 2, 4))), RuntimeError,
     "For batched 3-D input, hx and cx should also be 3-D but got (2-D, 3-D) tensors"),
    (lambda T: T.nn.LSTM(3, 4)(T.randn(5, 2, 3, dtype=T.float64)), ValueError,
     "RNN input dtype (torch.float64) does not match weight dtype (torch.float32). Convert input: "
     "input.to(torch.float32), or convert model: model.to(torch.float64)"),
    (lambda T: T.nn.LSTM(3, 4)(T.randn(0, 2, 3)), RuntimeError,
     "Expected sequence length to be larger than 0 in RNN"),
    (lambda T: T.nn.LSTM(3, 4)(T.randn(2, 2, 2, 3)), ValueError, "LSTM: Expected input to be 2D or 3D, got 4D instead"),
    (lambda T: T.nn.RNN(3, 4)(T.randn(3)), ValueError, "RNN: Expected input to be 2D or 3D, got 1D tensor instead"),
    (lambda T: T.nn.GRU(3, 4)(T.randn(5, 2, 3), T.randn(1, 3, 4)), RuntimeError,
     "Expected hidden size (1, 2, 4), got [1, 3, 4]"),
    (lambda T: T.nn.GRU(3, 4)(T.randn(5, 3), T.randn(1, 3, 4)), RuntimeError,
     "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"),
    (lambda T: T.nn.GRU(3, 4)(T.randn(5, 2, 3), T.zeros(1, 2, 4, dtype=T.float64)), RuntimeError,
     "mat1 and mat2 must have the same dtype, but got Double and Float"),
    (lambda T: T.nn.GRU(3, 4, proj_size=2), ValueError,
     "proj_size argument is only supported for LSTM, not RNN or GRU"),
    (lambda T: T.nn.RNN(3, 4, nonlinearity="gelu"), ValueError,
     "Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'."),
    (lambda T: T.nn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller than hidden_size"),
    (lambda T: T.nn.LSTM(3, 0), ValueError, "hidden_size must be greater than zero"),
    (lambda T: T.nn.LSTM(3, 4, dropout=2), ValueError,
     "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"),
    (lambda T: T.nn.LSTMCell(3, 4)(T.randn(2, 5)), RuntimeError, "input has inconsistent input_size: got 5 expected 3"),
    (lambda T: T.nn.LSTMCell(3, 4)(T.randn(2, 3), (T.randn(3, 4), T.randn(3, 4))), RuntimeError,
     "Input batch size 2 doesn't match hidden0 batch size 3"),
    (lambda T: T.nn.LSTMCell(3, 4)(T.randn(2, 3), (T.randn(2, 4), T.randn(2, 5))), RuntimeError,
     "hidden1 has inconsistent hidden_size: got 5, expected 4"),
    (lambda T: T.nn.GRUCell(3, 4)(T.randn(3), T.randn(2, 4)), RuntimeError,
     "hidden0 has inconsistent hidden_size: got 2, expected 4"),
    (lambda T: T.nn.GRUCell(3, 4)(T.randn(2, 3, dtype=T.float64)), RuntimeError,
     "mat1 and mat2 must have the same dtype, but got Double and Float"),
    (lambda T: T.nn.RNNCell(3, 4)(T.randn(1, 2, 3)), ValueError,
     "RNNCell: Expected input to be 1D or 2D, got 3D instead"),
    (lambda T: T.nn.LSTMCell(3, 4)(T.randn(3), (T.randn(1, 1, 4), T.randn(4))), ValueError,
     "LSTMCell: Expected hx[0] to be 1D or 2D, got 3D instead"),
]


@pytest.mark.parametrize("call, error, text", ERRORS, ids=[t[:40] for _, _, t in ERRORS])
def test_errors(T, call, error, text):
    with pytest.raises(error) as info:
        call(T)
    assert str(info.value) == text


def test_dropout_warning(T):
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        T.nn.GRU(3, 4, dropout=0.2)


PACKED_CASES = [("LSTM", {}), ("GRU", {"bidirectional": True, "num_layers": 2}),
                ("RNN", {"bidirectional": True, "batch_first": True}),
                ("LSTM", {"bidirectional": True, "proj_size": 2, "num_layers": 2})]


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("cls, kwargs", PACKED_CASES, ids=[f"{c}{k}" for c, k in PACKED_CASES])
def test_packed_sequence_matches_torch(torch, cls, kwargs):
    """pack_padded_sequence(enforce_sorted=False) -> module -> pad_packed_sequence: values, h_n and
    every gradient as PyTorch (float64)."""
    rng = np.random.default_rng(0)
    batch_first = kwargs.get("batch_first", False)
    x = rng.standard_normal((4, 6, 3) if batch_first else (6, 4, 3))
    lengths = [3, 6, 1, 4]
    results = []
    for lib in (torch, jitgrad):
        m = _build(lib, cls, (3, 4), kwargs, "float64")
        xt = lib.tensor(x, requires_grad=True)
        packed = lib.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=batch_first, enforce_sorted=False)
        out, hidden = m(packed)
        padded, lens = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=7)
        h = hidden[0] if cls == "LSTM" else hidden
        loss = padded.sin().sum() + (h * h).sum()
        if cls == "LSTM":
            loss = loss + hidden[1].sum()
        loss.backward()
        results.append([padded, h, lens, packed.batch_sizes, packed.sorted_indices, packed.data, xt.grad,
                        *[p.grad for p in m.parameters()]])
    for t, j in zip(*results):
        np.testing.assert_allclose(j.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_pad_and_pack_sequence(torch):
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 5, 3)]
    for side in ("right", "left"):
        expected = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True,
                                                   padding_value=-1, padding_side=side)
        got = jitgrad.nn.utils.rnn.pad_sequence([jitgrad.tensor(s) for s in seqs], batch_first=True,
                                                padding_value=-1, padding_side=side)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    tp = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    jp = jitgrad.nn.utils.rnn.pack_sequence([jitgrad.tensor(s) for s in seqs], enforce_sorted=False)
    assert type(jp).__name__ == "PackedSequence" and jp.batch_sizes.dtype == jitgrad.int64
    for t, j in zip(tp, jp):
        np.testing.assert_array_equal(j.numpy(), t.numpy())
    for t, j in zip(torch.nn.utils.rnn.unpack_sequence(tp), jitgrad.nn.utils.rnn.unpack_sequence(jp)):
        np.testing.assert_array_equal(j.numpy(), t.numpy())


def test_pack_errors(T):
    with pytest.raises(RuntimeError) as info:
        T.nn.utils.rnn.pack_padded_sequence(T.randn(3, 2, 1), [2, 3])
    assert str(info.value).startswith("`lengths` array must be sorted in decreasing order when `enforce_sorted` is")
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest"):
        T.nn.utils.rnn.pad_packed_sequence(T.nn.utils.rnn.pack_padded_sequence(T.randn(3, 2, 1), [3, 2]),
                                           total_length=2)
