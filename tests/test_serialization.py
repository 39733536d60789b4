"""jitgrad.save / jitgrad.load: round trips of tensors, state dicts and optimizer state; a format
that never unpickles; clear errors for truncated, corrupt and foreign files."""
import io
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import jitgrad
import jitgrad.nn as nn
from jitgrad import optim


def _round_trip(obj):
    buf = io.BytesIO()
    jitgrad.save(obj, buf)
    buf.seek(0)
    return jitgrad.load(buf)


def _saved_bytes(obj) -> bytes:
    buf = io.BytesIO()
    jitgrad.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                   "float64"])
def test_tensors_of_every_dtype(dtype):
    data = np.random.default_rng(0).uniform(-3, 3, (3, 4))
    t = jitgrad.tensor(data).to(getattr(jitgrad, dtype))
    for value in (t, t[1:, ::2], t[0, 0], t[:0]):  # contiguous, strided view, 0-d, empty
        out = _round_trip(value)
        assert type(out) is jitgrad.Tensor and out.dtype == value.dtype and out.shape == value.shape
        np.testing.assert_array_equal(out.numpy(), value.numpy())
        assert out.is_contiguous() and out.numpy().flags.writeable


def test_requires_grad_parameters_and_shared_tensors():
    x = jitgrad.randn(3, requires_grad=True)
    p = nn.Parameter(jitgrad.ones(2))
    y = x * 2  # a non-leaf loads as a leaf requiring grad (its values, not its graph), as in torch
    out = _round_trip({"x": x, "p": p, "y": y, "again": x, "frozen": nn.Parameter(jitgrad.ones(1), False)})
    assert out["x"].requires_grad and out["x"].is_leaf and type(out["x"]) is jitgrad.Tensor
    assert type(out["p"]) is nn.Parameter and out["p"].requires_grad
    assert not out["frozen"].requires_grad and type(out["frozen"]) is nn.Parameter
    assert out["y"].grad_fn is None and out["y"].requires_grad and out["y"].is_leaf
    assert out["again"] is out["x"]  # the same tensor saved twice loads as one tensor
    np.testing.assert_array_equal(out["y"].detach().numpy(), (x * 2).detach().numpy())


def test_python_values_and_containers():
    obj = {
        "none": None, "bools": [True, False], "int": -(2 ** 62), "float": 0.1, "nan": float("nan"),
        "inf": float("inf"), "ninf": -float("inf"), "str": "héllo", "bytes": b"\x00\xff", "complex": 1 - 2j,
        "tuple": (1, (2.5, "x"), []), "int keys": {0: "a", 1: {2: None}}, "tuple key": {(1, 2): 3},
        "dtype": jitgrad.float16, "size": jitgrad.Size([2, 3]), "np": np.arange(4, dtype=np.int32),
        "np scalars": [np.float32(1.5), np.int64(3), np.bool_(True)], "empty": {},
    }
    out = _round_trip(obj)
    assert list(out) == list(obj)
    assert np.isnan(out.pop("nan")) and np.isnan(obj.pop("nan"))
    np.testing.assert_array_equal(out.pop("np"), obj.pop("np"))
    assert out == obj
    assert isinstance(out["tuple"], tuple) and isinstance(out["tuple"][1], tuple)
    assert type(out["size"]) is jitgrad.Size and out["dtype"] is jitgrad.float16
    assert out["np scalars"] == [1.5, 3, True]


def test_module_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    model(jitgrad.randn(8, 3))  # update the running statistics
    path = tmp_path / "model.jg"
    jitgrad.save(model.state_dict(), path)
    sd = jitgrad.load(path)
    assert isinstance(sd, OrderedDict) and list(sd) == list(model.state_dict())
    assert sd._metadata == model.state_dict()._metadata and sd["1.num_batches_tracked"].dtype == jitgrad.int64
    fresh = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    assert repr(fresh.load_state_dict(sd)) == "<All keys matched successfully>"
    model.eval()
    fresh.eval()
    x = jitgrad.randn(4, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), fresh(x).detach().numpy())
    jitgrad.save(model.state_dict(), str(path))  # str paths too
    assert list(jitgrad.load(str(path), map_location="cpu", weights_only=True)) == list(sd)


def test_optimizer_checkpoint_resumes_exactly(tmp_path):
    def make():
        jitgrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        return model, optim.Adam(model.parameters(), lr=0.01, amsgrad=True)

    rng = np.random.default_rng(1)
    X = jitgrad.tensor(rng.standard_normal((16, 4)), dtype=jitgrad.float32)
    Y = jitgrad.tensor(rng.standard_normal((16, 1)), dtype=jitgrad.float32)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            ((model(X) - Y) ** 2).mean().backward()
            opt.step()

    model, opt = make()
    train(model, opt, 10)
    path = tmp_path / "ckpt.jg"
    jitgrad.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 10}, path)
    train(model, opt, 5)

    model2, opt2 = make()
    ckpt = jitgrad.load(path)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optim"])
    assert ckpt["epoch"] == 10 and ckpt["optim"]["state"][0]["step"].dtype == jitgrad.float32
    train(model2, opt2, 5)
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_saving_is_deterministic():
    obj = {"w": jitgrad.arange(6.0).reshape(2, 3), "step": 3}
    assert _saved_bytes(obj) == _saved_bytes(obj)


def test_loading_runs_no_unpickler(monkeypatch):
    data = _saved_bytes({"w": jitgrad.randn(3), "meta": ("a", 1)})

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    out = jitgrad.load(io.BytesIO(data))
    assert out["meta"] == ("a", 1)


def test_unsaveable_objects_are_refused():
    with pytest.raises(TypeError, match="cannot save an object of type .*Linear.*state_dict"):
        _round_trip(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="cannot save an object of type"):
        _round_trip({"f": lambda: 0})
    with pytest.raises(TypeError, match="cannot save a NumPy array of dtype object"):
        _round_trip(np.array([None]))


# ============================================================================ bad files
def test_truncated_files_raise_clearly():
    data = _saved_bytes({"a": jitgrad.randn(50), "b": [jitgrad.ones(3, 3)]})
    for cut in (len(data) - 1, len(data) - 30, len(data) // 2, 100, 10, 4):
        with pytest.raises(RuntimeError, match="jitgrad.load: .* is corrupt or truncated"):
            jitgrad.load(io.BytesIO(data[:cut]))


def test_corrupted_bytes_raise_clearly():
    data = _saved_bytes({"a": jitgrad.arange(200, dtype=jitgrad.float64)})
    rng = np.random.default_rng(2)
    # flip bytes inside the tensor data: the CRC check catches it
    start = data.index(b"\x93NUMPY")
    for offset in (200, 800, 1500):
        bad = bytearray(data)
        bad[start + offset] ^= 0xFF
        with pytest.raises(RuntimeError, match="corrupt or truncated"):
            jitgrad.load(io.BytesIO(bytes(bad)))
    # random garbage overwriting a stretch of the file
    for _ in range(10):
        bad = bytearray(data)
        pos = int(rng.integers(4, len(data) - 64))
        bad[pos:pos + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        with pytest.raises(RuntimeError, match="jitgrad.load: "):
            jitgrad.load(io.BytesIO(bytes(bad)))


def test_wrong_magic_and_foreign_files():
    with pytest.raises(RuntimeError, match="is not a jitgrad file \\(wrong magic number"):
        jitgrad.load(io.BytesIO(b"GARBAGE" * 20))
    with pytest.raises(RuntimeError, match="is not a jitgrad file"):
        jitgrad.load(io.BytesIO(b""))
    with pytest.raises(RuntimeError, match="wrong magic number"):
        jitgrad.load(io.BytesIO(pickle.dumps({"a": 1})))
    # a valid ZIP that is not a jitgrad archive
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("something.txt", b"hello")
    with pytest.raises(RuntimeError, match="is not a jitgrad file \\(wrong magic: no 'jitgrad/format' entry\\)"):
        jitgrad.load(io.BytesIO(buf.getvalue()))
    # a jitgrad archive whose magic line is wrong
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("jitgrad/format", b"not-jitgrad\n1\n")
        zf.writestr("jitgrad/data.json", b'{"object": null}')
    with pytest.raises(RuntimeError, match="is not a jitgrad file \\(wrong magic"):
        jitgrad.load(io.BytesIO(buf.getvalue()))
    # a newer format version
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("jitgrad/format", b"jitgrad-save\n99\n")
        zf.writestr("jitgrad/data.json", b'{"object": null}')
    with pytest.raises(RuntimeError, match="has format version 99"):
        jitgrad.load(io.BytesIO(buf.getvalue()))


def test_torch_checkpoint_is_refused_with_a_hint(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="looks like a PyTorch checkpoint, which jitgrad does not unpickle"):
        jitgrad.load(path)


@pytest.mark.parametrize("structure", [
    b'{"object": {"$tensor": 5}}', b'{"object": {"$unknown": 1}}', b'{"object": {"$dict": [[1]]}}',
    b'{"object": {"$float": "1e400"}}', b'{"object": {"$tensor": -1}}', b'{"nothing": 1}', b"[1, 2",
    b'{"object": {"$dict": [[[1], 2]]}}', b'{"object": {"$dtype": "__class__"}}',
])
def test_malformed_structure_is_reported_as_corrupt(structure):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("jitgrad/format", b"jitgrad-save\n1\n")
        zf.writestr("jitgrad/data.json", structure)
    with pytest.raises(RuntimeError, match="corrupt or truncated"):
        jitgrad.load(io.BytesIO(buf.getvalue()))


def test_object_arrays_inside_the_archive_are_refused():
    buf = io.BytesIO()
    arr = io.BytesIO()
    np.lib.format.write_array(arr, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("jitgrad/format", b"jitgrad-save\n1\n")
        zf.writestr("jitgrad/data.json", b'{"object": {"$tensor": 0}}')
        zf.writestr("jitgrad/tensors/0.npy", arr.getvalue())
    with pytest.raises(RuntimeError, match="corrupt or truncated: array 0 is unreadable"):
        jitgrad.load(io.BytesIO(buf.getvalue()))
