"""Issue #8, part F: ``out=``, factories, empty/odd matrix products and ``jitgrad.load`` never
crash, never answer silently wrong, and raise PyTorch's exceptions (texts from torch 2.13,
hard-coded so the suite runs without torch; ``test_messages_match_live_torch`` re-checks them)."""
import io
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import jitgrad
from jitgrad import serialization


def _raises(fn, exc, text):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == text, str(info.value)


# ============================================================================ out=
GRAD_MSG = ("{}(): functions with out=... arguments don't support automatic differentiation, but one of the "
            "arguments requires grad.")
RESIZE_MSG = ("An output with one or more elements was resized since it had shape [2], which does not match the "
              "required output shape [3]. This behavior is deprecated, and in a future PyTorch release outputs will "
              "not be resized unless they have zero elements. You can explicitly reuse an out tensor t by resizing "
              "it, inplace, to zero elements with t.resize_(0).")


def test_out_writes_into_views_and_numpy_memory():
    x, y = jitgrad.ones(3), jitgrad.full((3,), 2.0)
    z = jitgrad.zeros(5)
    res = jitgrad.add(x, y, out=z[:3])
    assert z.tolist() == [3.0, 3.0, 3.0, 0.0, 0.0]
    assert res.tolist() == [3.0, 3.0, 3.0]
    z = jitgrad.zeros(6)
    jitgrad.mul(x, y, out=z[::2])  # a strided view
    assert z.tolist() == [2.0, 0.0, 2.0, 0.0, 2.0, 0.0]
    arr = np.zeros(3, np.float32)
    t = jitgrad.from_numpy(arr)
    version = t._version
    assert jitgrad.exp(x, out=t) is t
    np.testing.assert_allclose(arr, np.e, rtol=1e-6)
    assert t._version == version + 1


def test_out_dtype_cast_and_refusal():
    x = jitgrad.ones(3)
    xi = jitgrad.ones(3, dtype=jitgrad.int64)
    out = jitgrad.empty(3)
    jitgrad.add(xi, xi, out=out)  # Long -> Float is allowed
    assert out.dtype == jitgrad.float32 and out.tolist() == [2.0, 2.0, 2.0]
    out = jitgrad.empty(3, dtype=jitgrad.float64)
    jitgrad.sqrt(x, out=out)
    assert out.dtype == jitgrad.float64  # the out tensor keeps its dtype
    _raises(lambda: jitgrad.add(x, x, out=jitgrad.empty(3, dtype=jitgrad.int64)), RuntimeError,
            "result type Float can't be cast to the desired output type Long")
    _raises(lambda: jitgrad.add(xi, xi, out=jitgrad.empty(3, dtype=jitgrad.bool)), RuntimeError,
            "result type Long can't be cast to the desired output type Bool")
    _raises(lambda: jitgrad.cat([x], out=jitgrad.empty(3, dtype=jitgrad.int64)), RuntimeError,
            "torch.cat(): input types can't be cast to the desired output type Long")
    _raises(lambda: jitgrad.argmax(x, out=jitgrad.empty(())), RuntimeError,
            "Expected out tensor to have dtype long int, but got float instead")
    _raises(lambda: jitgrad.gather(x, 0, jitgrad.zeros(3, dtype=jitgrad.int64), out=jitgrad.empty(3, dtype=jitgrad.float64)),
            RuntimeError, "Expected out tensor to have dtype float, but got double instead")


def test_out_resizes_with_pytorchs_warning():
    x = jitgrad.ones(3)
    out = jitgrad.empty(2)
    with pytest.warns(UserWarning) as record:
        jitgrad.add(x, x, out=out)
    assert str(record[0].message) == RESIZE_MSG
    assert out.tolist() == [2.0, 2.0, 2.0]
    out = jitgrad.empty(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty out is resized silently
        jitgrad.add(x, x, out=out)
    assert out.shape == (3,)
    _raises(lambda: jitgrad.add(x, x, out=jitgrad.zeros(1).expand(3)), RuntimeError,
            "unsupported operation: more than one element of the written-to tensor refers to a single memory "
            "location. Please clone() the tensor before performing the operation.")


def test_out_refuses_autograd():
    a = jitgrad.ones(3, requires_grad=True)
    x = jitgrad.ones(3)
    _raises(lambda: jitgrad.add(a, x, out=jitgrad.empty(3)), RuntimeError, GRAD_MSG.format("add"))
    _raises(lambda: jitgrad.add(x, x, out=jitgrad.empty(3, requires_grad=True)), RuntimeError, GRAD_MSG.format("add"))
    _raises(lambda: jitgrad.sum(a, 0, out=jitgrad.empty(())), RuntimeError, GRAD_MSG.format("sum"))
    _raises(lambda: jitgrad.cat([a, x], out=jitgrad.empty(6)), RuntimeError, GRAD_MSG.format("cat"))
    _raises(lambda: jitgrad.matmul(a, x, out=jitgrad.empty(())), RuntimeError, GRAD_MSG.format("matmul"))
    _raises(lambda: jitgrad.linalg.vector_norm(a, out=jitgrad.empty(())), RuntimeError,
            GRAD_MSG.format("linalg_vector_norm"))
    out = jitgrad.empty(())
    assert jitgrad.argmax(a, out=jitgrad.empty((), dtype=jitgrad.int64)).item() == 0  # not differentiable
    with jitgrad.no_grad():
        jitgrad.sum(a, 0, out=out)
    assert out.item() == 3.0 and not out.requires_grad


def test_out_for_every_kind_of_op():
    m = jitgrad.arange(6, dtype=jitgrad.float32).reshape(2, 3)
    out = jitgrad.empty(0)
    assert jitgrad.sum(m, 0, out=out) is out and out.tolist() == [3.0, 5.0, 7.0]
    out = jitgrad.empty(2, 2, dtype=jitgrad.float64)
    jitgrad.matmul(m, m.t(), out=out)
    assert out.tolist() == [[5.0, 14.0], [14.0, 50.0]] and out.dtype == jitgrad.float64
    values, indices = jitgrad.empty(0), jitgrad.empty(0, dtype=jitgrad.int64)
    res = jitgrad.max(m, 1, out=(values, indices))
    assert res.values is values and values.tolist() == [2.0, 5.0] and indices.tolist() == [2, 2]
    out = jitgrad.empty(0)
    jitgrad.stack([m, m], out=out)
    assert out.shape == (2, 2, 3)
    out = jitgrad.empty(0, dtype=jitgrad.bool)
    jitgrad.gt(m, 2, out=out)
    assert out.tolist() == [[False, False, False], [True, True, True]]
    out = jitgrad.empty(2, 3)
    jitgrad.tril(m, out=out)
    assert out.tolist() == [[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]]


def test_out_where_pytorch_has_none():
    x = jitgrad.ones(3)
    _raises(lambda: jitgrad.relu(x, out=x), TypeError, "relu() got an unexpected keyword argument 'out'")
    _raises(lambda: jitgrad.clone(x, out=x), TypeError, "clone() got an unexpected keyword argument 'out'")
    _raises(lambda: x.add(x, out=x), TypeError, "add() got an unexpected keyword argument 'out'")
    _raises(lambda: jitgrad.add(x, x, out=[1]), TypeError, "add(): argument 'out' must be Tensor, not list")


def test_factories_with_out():
    out = jitgrad.empty(2, dtype=jitgrad.int64)
    assert jitgrad.zeros(3, out=out) is out and out.tolist() == [0, 0, 0] and out.dtype == jitgrad.int64
    z = jitgrad.zeros(5)
    jitgrad.ones(3, out=z[:3])
    assert z.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    _raises(lambda: jitgrad.zeros(3, dtype=jitgrad.float32, out=jitgrad.empty(2, dtype=jitgrad.int64)), RuntimeError,
            "dtype Float does not match dtype of out parameter (Long)")
    out = jitgrad.empty(3, dtype=jitgrad.int64)
    jitgrad.full((3,), 2.5, out=out)
    assert out.tolist() == [2, 2, 2]
    out = jitgrad.empty(3, dtype=jitgrad.float64)
    jitgrad.linspace(0, 1, 3, out=out)
    assert out.tolist() == [0.0, 0.5, 1.0]


# ============================================================================ factories
def test_factory_values_pytorch_refuses():
    cases = [
        (lambda: jitgrad.tensor([2 ** 63]), ValueError, "Overflow when unpacking long long"),
        (lambda: jitgrad.tensor(-(2 ** 63) - 1), ValueError, "Overflow when unpacking long long"),
        (lambda: jitgrad.tensor([2 ** 63], dtype=jitgrad.uint8), ValueError, "Overflow when unpacking long long"),
        (lambda: jitgrad.tensor([300], dtype=jitgrad.int8), RuntimeError,
         "value cannot be converted to type int8 without overflow"),
        (lambda: jitgrad.tensor([float("nan")], dtype=jitgrad.int64), RuntimeError,
         "value cannot be converted to type int64 without overflow"),
        (lambda: jitgrad.tensor([1e10], dtype=jitgrad.int32), RuntimeError,
         "value cannot be converted to type int32 without overflow"),
        (lambda: jitgrad.full((2,), 2 ** 63), RuntimeError, "value cannot be converted to type int64_t without overflow"),
        (lambda: jitgrad.full((2,), 300, dtype=jitgrad.int8), RuntimeError,
         "value cannot be converted to type int8_t without overflow"),
        (lambda: jitgrad.full((2,), 1e300), RuntimeError, "value cannot be converted to type float without overflow"),
        (lambda: jitgrad.tensor([[1, 2], [3]]), ValueError, "expected sequence of length 2 at dim 1 (got 1)"),
        (lambda: jitgrad.tensor([[1, 2], 3]), TypeError, "not a sequence"),
        (lambda: jitgrad.tensor("a"), TypeError, "new(): invalid data type 'str'"),
        (lambda: jitgrad.tensor(["a"]), ValueError, "too many dimensions 'str'"),
        (lambda: jitgrad.tensor([1, "a"]), TypeError, "new(): invalid data type 'str'"),
        (lambda: jitgrad.tensor(None), RuntimeError, "Could not infer dtype of NoneType"),
        (lambda: jitgrad.tensor([None]), RuntimeError, "Could not infer dtype of NoneType"),
        (lambda: jitgrad.empty(-1), RuntimeError, "Trying to create tensor with negative dimension -1: [-1]"),
        (lambda: jitgrad.rand(2, -3), RuntimeError, "Trying to create tensor with negative dimension -3: [2, -3]"),
        (lambda: jitgrad.randperm(-1), RuntimeError, "Trying to create tensor with negative dimension -1: [-1]"),
        (lambda: jitgrad.zeros(2 ** 63), TypeError, "zeros(): argument 'size' failed to unpack the object at pos 1 "
                                                    'with error "Overflow when unpacking long long"'),
        (lambda: jitgrad.arange(0, float("inf")), RuntimeError, "unsupported range: 0 -> inf"),
        (lambda: jitgrad.arange(0, float("nan")), RuntimeError, "unsupported range: 0 -> nan"),
    ]
    for fn, exc, text in cases:
        _raises(fn, exc, text)
    # what PyTorch accepts: integers past int64 into a float tensor, negatives wrapping into uint8
    assert jitgrad.tensor([2 ** 63, 1.5]).tolist() == [9.223372036854776e18, 1.5]
    assert jitgrad.tensor([2 ** 63], dtype=jitgrad.float32).tolist() == [9.223372036854776e18]
    assert jitgrad.tensor([-1], dtype=jitgrad.uint8).tolist() == [255]
    assert jitgrad.full((2,), -1, dtype=jitgrad.uint8).tolist() == [255, 255]
    assert jitgrad.tensor([1.5, -2.7], dtype=jitgrad.int64).tolist() == [1, -2]


def test_complex_is_refused_clearly():
    text = "complex values are not supported: jitgrad has no complex dtype (got {})"
    _raises(lambda: jitgrad.tensor([1 + 2j, 3j]), TypeError, text.format("(1+2j)"))
    _raises(lambda: jitgrad.tensor(1j), TypeError, text.format("1j"))
    _raises(lambda: jitgrad.full((2,), 1j), TypeError, text.format("1j"))
    # into an existing float tensor's dtype, PyTorch's own conversion error (as for fill_)
    _raises(lambda: jitgrad.full_like(jitgrad.ones(2), 1j), RuntimeError,
            "value cannot be converted to type float without overflow")
    for make in (jitgrad.from_numpy, jitgrad.as_tensor, jitgrad.tensor):
        _raises(lambda: make(np.array([1j])), TypeError,
                "can't convert np.ndarray of type numpy.complex128. The only supported types are: float64, float32, "
                "float16, int64, int32, int16, int8, uint8, and bool.")


def test_from_numpy_unsupported_arrays():
    for dt, name in [(np.uint16, "uint16"), (np.uint32, "uint32"), (np.uint64, "uint64"), (object, "object_"),
                     ("datetime64[s]", "datetime64"), ("U3", "str_")]:
        _raises(lambda: jitgrad.from_numpy(np.zeros(2, dt)), TypeError,
                f"can't convert np.ndarray of type numpy.{name}. The only supported types are: float64, float32, "
                "float16, int64, int32, int16, int8, uint8, and bool.")
    for make in (jitgrad.from_numpy, jitgrad.as_tensor, jitgrad.tensor):
        _raises(lambda: make(np.ones(2, ">f4")), ValueError,
                "given numpy array has byte order different from the native byte order. Conversion between byte "
                "orders is currently not supported.")
    arr = np.arange(3.0)
    arr.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        t = jitgrad.from_numpy(arr)
    t.add_(1)  # a writable copy: in-place ops work, the read-only array is untouched
    assert t.tolist() == [1.0, 2.0, 3.0] and arr.tolist() == [0.0, 1.0, 2.0]


ALLOC = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
         "allocate {} bytes. Error code 12 (Cannot allocate memory)")


def test_huge_factories_raise_pytorchs_allocator_errors():
    # in a subprocess: a regression here would try to allocate terabytes
    code = """
import jitgrad
cases = [lambda: jitgrad.empty(2**40), lambda: jitgrad.zeros(10**6, 10**6), lambda: jitgrad.ones(2**40, dtype=jitgrad.float64),
         lambda: jitgrad.randn(2**40), lambda: jitgrad.randint(0, 5, (2**40,)), lambda: jitgrad.randperm(2**40),
         lambda: jitgrad.linspace(0, 1, 2**50), lambda: jitgrad.full((2**40,), 1.5),
         lambda: jitgrad.zeros(2**32, 2**32), lambda: jitgrad.eye(2**31), lambda: jitgrad.arange(2**62)]
for fn in cases:
    try:
        fn()
        print("no error")
    except Exception as e:
        print(type(e).__name__, e)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "RuntimeError " + ALLOC.format(4398046511104), "RuntimeError " + ALLOC.format(4000000000000),
        "RuntimeError " + ALLOC.format(8796093022208), "RuntimeError " + ALLOC.format(4398046511104),
        "RuntimeError " + ALLOC.format(8796093022208), "RuntimeError " + ALLOC.format(8796093022208),
        "RuntimeError " + ALLOC.format(4503599627370496), "RuntimeError " + ALLOC.format(4398046511104),
        "RuntimeError Storage size calculation overflowed with sizes=[4294967296, 4294967296]",
        "RuntimeError Storage size calculation overflowed with sizes=[2147483648, 2147483648]",
        "RuntimeError Storage size calculation overflowed with sizes=[4611686018427387904]",
    ]


# ============================================================================ matrix products
@pytest.mark.parametrize("sa, sb, shape", [
    ((2, 0, 3), (2, 3, 5), (2, 0, 5)), ((3, 0), (0, 4), (3, 4)), ((2, 3, 0), (0, 4), (2, 3, 4)),
    ((1, 0, 3), (2, 3, 4), (2, 0, 4)), ((2, 1, 0), (2, 0, 4), (2, 1, 4)), ((0, 2, 3), (3,), (0, 2)),
    ((0,), (0, 4), (4,)), ((0,), (0,), ()),
])
def test_empty_matmul_and_its_gradients(sa, sb, shape):
    a = jitgrad.ones(*sa, requires_grad=True)
    b = jitgrad.ones(*sb, requires_grad=True)
    y = a @ b
    assert y.shape == shape and not y._data.any()
    (y * 2).sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    assert not a.grad._data.any() and not b.grad._data.any()


def test_matrix_product_edge_cases():
    # zero-stride (expanded) and transposed operands give the dense answer
    v = jitgrad.arange(1.0, 4.0)
    np.testing.assert_allclose((v.expand(2, 3) @ v.expand(3, 3).t())._data, [[14.0] * 3] * 2)
    _raises(lambda: jitgrad.ones(2, 3, 4) @ jitgrad.ones(5), RuntimeError,
            "size mismatch, got input (6), mat (6x4), vec (5)")
    _raises(lambda: jitgrad.ones(2, 3, 4) @ jitgrad.ones(5, 2), RuntimeError,
            "mat1 and mat2 shapes cannot be multiplied (6x4 and 5x2)")
    assert jitgrad.linalg.matrix_norm(jitgrad.ones(0, 3), float("inf")).item() == 0.0
    assert jitgrad.linalg.matrix_norm(jitgrad.ones(3, 0), 1).item() == 0.0
    _raises(lambda: jitgrad.linalg.matrix_norm(jitgrad.ones(3, 3), out=jitgrad.empty((), dtype=jitgrad.int64)),
            RuntimeError, "linalg.matrix_norm expected out tensor dtype Float but got: Long")


# ============================================================================ jitgrad.load
def _archive(structure, arrays=(), compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        zf.writestr("jitgrad/format", b"jitgrad-save\n1\n")
        zf.writestr("jitgrad/data.json", structure)
        for i, a in enumerate(arrays):
            zf.writestr(f"jitgrad/tensors/{i}.npy", a)
    return buf.getvalue()


def _npy_header(shape, descr="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr)
    return buf.getvalue()


@pytest.mark.parametrize("blob, text", [
    (_archive(b'{"object": {"$tensor": 0}}', [_npy_header((2 ** 40,)) + bytes(64)]),
     "array 0 is unreadable (its header declares 8796093022208 bytes of data, the entry holds 64)"),
    (_archive(b'{"object": {"$tensor": 0}}', [_npy_header((2 ** 21, 2 ** 21, 2 ** 21)) + bytes(64)]),
     "array 0 is unreadable (its header declares 73786976294838206464 bytes of data, the entry holds 64)"),
    (_archive(b'{"object": {"$tensor": 0}}', [_npy_header((-1, -2)) + bytes(16)]),
     "array 0 is unreadable (negative dimension in (-1, -2))"),
    (_archive(b'{"object": {"$tensor": 0}}', [_npy_header((2,), "<c16") + bytes(32)]),
     "array 0 is unreadable (unsupported dtype complex128)"),
    (_archive(b'{"object": {"$size": ["x"]}}'), "bad torch.Size value"),
    (_archive(b'{"object": {"$complex": [1, 2, 3]}}'), "bad complex value"),
    (_archive(b'{"object": {"$complex": ["a", 2]}}'), "bad complex value"),
    (_archive(b'{"object": [{"$ndarray": 0}, {"$ndarray": 0}]}', [_npy(np.zeros(3))]), "array 0 is referenced twice"),
    (_archive(b'{"object": null}', compression=zipfile.ZIP_BZIP2),
     "'jitgrad/format' uses an unsupported compression method (12)"),
])
def test_load_refuses_crafted_archives(blob, text):
    _raises(lambda: jitgrad.load(io.BytesIO(blob)), RuntimeError,
            "jitgrad.load: <file object> is corrupt or truncated: " + text)


def test_load_caps_decompressed_sizes(monkeypatch):
    blob = _archive(b'{"object": {"$tensor": 0}}', [_npy(np.zeros(2 ** 19))], compression=zipfile.ZIP_DEFLATED)
    assert jitgrad.load(io.BytesIO(blob)).shape == (2 ** 19,)  # 4 MiB from ~4 KiB: a legitimate ratio
    monkeypatch.setattr(serialization, "_MAX_LOAD_BYTES", 2 ** 20)
    with pytest.raises(RuntimeError, match=r"corrupt or truncated: 'jitgrad/tensors/0.npy' declares 4194432 bytes, "
                                           r"more than this load may decompress"):
        jitgrad.load(io.BytesIO(blob))
    monkeypatch.undo()
    # a central directory declaring far more than the compressed bytes can expand to
    data = bytearray(blob)
    cd = data.index(b"PK\x01\x02jitgrad/tensors/0.npy"[:4], data.index(b"PK\x01\x02"))
    while data[cd + 46:cd + 46 + 21] != b"jitgrad/tensors/0.npy":
        cd = data.index(b"PK\x01\x02", cd + 4)
    data[cd + 24:cd + 28] = (0xFFFFFF00).to_bytes(4, "little")
    with pytest.raises(RuntimeError, match="declares 4294967040 bytes, more than its .* compressed bytes can hold"):
        jitgrad.load(io.BytesIO(bytes(data)))


def test_load_fuzz_never_raises_anything_but_runtime_error():
    buf = io.BytesIO()
    jitgrad.save({"a": jitgrad.randn(20), "b": [jitgrad.ones(3, 3, dtype=jitgrad.int64), 2.5, "x", (1, 2)],
                  "c": jitgrad.Size([2, 3])}, buf)
    good = buf.getvalue()
    rng = np.random.default_rng(8)
    for i in range(600):
        bad = bytearray(good)
        mode = i % 4
        if mode == 0:  # a few flipped bytes
            for _ in range(int(rng.integers(1, 4))):
                bad[int(rng.integers(0, len(bad)))] ^= int(rng.integers(1, 256))
        elif mode == 1:  # truncation
            bad = bad[:int(rng.integers(0, len(bad)))]
        elif mode == 2:  # a stretch of garbage
            pos = int(rng.integers(0, len(bad)))
            bad[pos:pos + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        else:  # a random 32-bit value over a size/offset-like field
            pos = int(rng.integers(0, len(bad) - 4))
            bad[pos:pos + 4] = int(rng.integers(0, 2 ** 32)).to_bytes(4, "little")
        try:
            jitgrad.load(io.BytesIO(bytes(bad)))
        except RuntimeError as e:
            assert str(e).startswith("jitgrad.load: "), str(e)


# ============================================================================ the texts above, against torch
def test_messages_match_live_torch():
    torch = pytest.importorskip("torch")

    def text(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return str(e).split("\n")[0]
        return None

    x, xi = torch.ones(3), torch.ones(3, dtype=torch.long)
    a = torch.ones(3, requires_grad=True)
    assert text(lambda: torch.add(a, x, out=torch.empty(3))) == GRAD_MSG.format("add")
    assert text(lambda: torch.add(x, x, out=torch.empty(3, dtype=torch.long))) == \
        "result type Float can't be cast to the desired output type Long"
    assert text(lambda: torch.relu(x, out=x)) == "relu() got an unexpected keyword argument 'out'"
    assert text(lambda: torch.argmax(x, out=torch.empty(()))) == \
        "Expected out tensor to have dtype long int, but got float instead"
    assert text(lambda: torch.cat([x], out=torch.empty(3, dtype=torch.long))) == \
        "torch.cat(): input types can't be cast to the desired output type Long"
    assert text(lambda: torch.zeros(3, dtype=torch.float, out=torch.empty(2, dtype=torch.long))) == \
        "dtype Float does not match dtype of out parameter (Long)"
    with pytest.warns(UserWarning) as record:
        torch.add(x, x, out=torch.empty(2))
    assert str(record[0].message).startswith(RESIZE_MSG)
    assert text(lambda: torch.tensor([2 ** 63])) == "Overflow when unpacking long long"
    assert text(lambda: torch.full((2,), 300, dtype=torch.int8)) == \
        "value cannot be converted to type int8_t without overflow"
    assert text(lambda: torch.empty(2 ** 40)) == ALLOC.format(4398046511104)
    assert text(lambda: torch.eye(2 ** 31)) == "Storage size calculation overflowed with sizes=[2147483648, 2147483648]"
    assert text(lambda: torch.arange(0, float("inf"))) == "unsupported range: 0 -> inf"
    assert text(lambda: torch.ones(2, 3, 4) @ torch.ones(5)) == "size mismatch, got input (6), mat (6x4), vec (5)"
    assert text(lambda: torch.from_numpy(np.ones(2, ">f4"))).startswith("given numpy array has byte order")
    assert torch.linalg.matrix_norm(torch.ones(0, 3), float("inf")).item() == 0.0
    assert (torch.ones(2, 0, 3) @ torch.ones(2, 3, 5)).shape == (2, 0, 5)
    del xi
