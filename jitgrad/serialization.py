"""``jitgrad.save`` / ``jitgrad.load``: tensors and plain containers of them, in a format that
loads nothing executable.

A file is a ZIP archive (stored, not compressed) holding

* ``jitgrad/format`` -- the magic line ``jitgrad-save`` and the format version,
* ``jitgrad/data.json`` -- the object structure as JSON (containers, scalars, strings, and
  references to tensors by index),
* ``jitgrad/tensors/<i>.npy`` -- one NumPy ``.npy`` array per distinct tensor, read back with
  ``allow_pickle=False``.

No pickle anywhere: loading a file can only build tensors, Python scalars, strings, bytes and
lists / tuples / dicts (``OrderedDict`` too, with a state dict's ``_metadata``).  ZIP's CRC-32
checks, the magic entry and strict validation of the JSON make a truncated, corrupt or foreign
file fail with a clear ``RuntimeError`` instead of loading garbage.
"""
import io
import json
import math
import os
from collections import OrderedDict

import numpy as np

from . import _dtype
from .tensor import Size, Tensor, _wrap

__all__ = ["save", "load"]

MAGIC = b"jitgrad-save\n"
FORMAT_VERSION = 1
_FORMAT_ENTRY = "jitgrad/format"
_DATA_ENTRY = "jitgrad/data.json"
_TENSOR_DIR = "jitgrad/tensors/"
_ALLOWED_DTYPES = {np.dtype(t) for t in (np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16,
                                         np.float32, np.float64)}


def _c_order(a: np.ndarray) -> np.ndarray:
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    return a if a.flags.c_contiguous else a.copy(order="C")


class _Encoder:
    """Turns an object tree into JSON-able values plus a list of arrays."""

    def __init__(self):
        self.arrays = []
        self.tensor_ids = {}  # id(tensor) -> index: a tensor saved twice loads as one object
        self.keepalive = []

    def encode(self, obj, depth=0):
        if depth > 500:
            raise ValueError("jitgrad.save: object nesting is too deep (more than 500 levels)")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            if math.isfinite(obj):
                return obj
            return {"$float": repr(obj)}  # 'nan', 'inf', '-inf'
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, _dtype.dtype):
            return {"$dtype": obj.name}
        if isinstance(obj, Size):
            return {"$size": [int(s) for s in obj]}
        if isinstance(obj, np.ndarray):
            if obj.dtype not in _ALLOWED_DTYPES:
                raise TypeError(f"jitgrad.save: cannot save a NumPy array of dtype {obj.dtype}")
            index = len(self.arrays)
            self.arrays.append(_c_order(obj))
            return {"$ndarray": index}
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            return self.encode(obj.item(), depth)
        if isinstance(obj, complex):
            return {"$complex": [self.encode(obj.real), self.encode(obj.imag)]}
        if isinstance(obj, (bytes, bytearray)):
            return {"$bytes": bytes(obj).hex()}
        if isinstance(obj, list):
            return [self.encode(v, depth + 1) for v in obj]
        if isinstance(obj, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in obj]}
        if isinstance(obj, dict):
            items = [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in obj.items()]
            if isinstance(obj, OrderedDict):
                out = {"$odict": items}
                metadata = getattr(obj, "_metadata", None)
                if metadata is not None:
                    out["metadata"] = self.encode(metadata, depth + 1)
                return out
            return {"$dict": items}
        raise TypeError(
            f"jitgrad.save: cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__}; "
            "jitgrad saves tensors, Python scalars, strings, bytes and lists/tuples/dicts of them "
            "(for a module or an optimizer, save its state_dict())"
        )

    def _tensor(self, t: Tensor):
        from .nn.parameter import Parameter

        index = self.tensor_ids.get(id(t))
        if index is None:  # a non-leaf is saved as a leaf (its values, not its graph), as torch.save does
            index = len(self.arrays)
            self.tensor_ids[id(t)] = index
            self.keepalive.append(t)
            self.arrays.append(_c_order(t._data))
        out = {"$tensor": index, "requires_grad": bool(t._requires_grad)}
        if isinstance(t, Parameter):
            out["parameter"] = True
        return out


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True) -> None:
    """Save ``obj`` (tensors, state dicts, optimizer state, nested containers of them) to a path or
    a writable binary file object."""
    encoder = _Encoder()
    structure = encoder.encode(obj)
    data = json.dumps({"version": FORMAT_VERSION, "object": structure}, allow_nan=False).encode("utf-8")
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            _write(fh, data, encoder.arrays)
    else:
        _write(f, data, encoder.arrays)


def _write(fh, data: bytes, arrays) -> None:
    import zipfile

    def entry(name, payload):
        # a fixed timestamp: saving the same object twice gives the same bytes
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        zf.writestr(info, payload)

    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        entry(_FORMAT_ENTRY, MAGIC + str(FORMAT_VERSION).encode() + b"\n")
        entry(_DATA_ENTRY, data)
        for i, arr in enumerate(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            entry(f"{_TENSOR_DIR}{i}.npy", buf.getvalue())


class _Corrupt(Exception):
    pass


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load an object saved by :func:`jitgrad.save` from a path or a readable binary file object.

    Raises ``RuntimeError`` for a file that is not a jitgrad save file, or is truncated or corrupt.
    """
    if map_location is not None and str(map_location).split(":")[0] != "cpu" and not callable(map_location):
        raise RuntimeError(f"jitgrad runs on the CPU only; got map_location={map_location!r}")
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<file object>")
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as fh:
                return _read(fh, name)
        return _read(f, name)
    except _Corrupt as e:
        raise RuntimeError(f"jitgrad.load: {name!s} is corrupt or truncated: {e}") from None


def _read(fh, name):
    import zipfile

    head = fh.read(4)
    fh.seek(-len(head), io.SEEK_CUR)
    if head != b"PK\x03\x04":
        raise RuntimeError(
            f"jitgrad.load: {name!s} is not a jitgrad file (wrong magic number: expected a jitgrad save "
            f"archive, found {head!r} at the start)"
        )
    try:
        zf = zipfile.ZipFile(fh, "r")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise _Corrupt(f"not a readable archive ({e})") from None
    with zf:
        names = set(zf.namelist())
        if _FORMAT_ENTRY not in names:
            hint = " (it looks like a PyTorch checkpoint, which jitgrad does not unpickle)" if any(
                n.endswith("data.pkl") for n in names) else ""
            raise RuntimeError(f"jitgrad.load: {name!s} is not a jitgrad file (wrong magic: no "
                               f"'{_FORMAT_ENTRY}' entry){hint}")
        magic = _read_entry(zf, _FORMAT_ENTRY)
        if not magic.startswith(MAGIC):
            raise RuntimeError(f"jitgrad.load: {name!s} is not a jitgrad file (wrong magic {magic[:16]!r})")
        try:
            version = int(magic[len(MAGIC):].strip() or b"-1")
        except ValueError:
            raise _Corrupt("unreadable format version") from None
        if version > FORMAT_VERSION or version < 1:
            raise RuntimeError(f"jitgrad.load: {name!s} has format version {version}; this jitgrad reads "
                               f"version {FORMAT_VERSION}")
        if _DATA_ENTRY not in names:
            raise _Corrupt(f"the '{_DATA_ENTRY}' entry is missing")
        try:
            doc = json.loads(_read_entry(zf, _DATA_ENTRY).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise _Corrupt(f"the object structure is not valid JSON ({e})") from None
        if not isinstance(doc, dict) or "object" not in doc:
            raise _Corrupt("the object structure has no root")
        decoder = _Decoder(zf, names)
        try:
            return decoder.decode(doc["object"])
        except RecursionError:
            raise _Corrupt("the object structure is nested too deeply") from None


def _read_entry(zf, entry) -> bytes:
    import zipfile

    try:
        return zf.read(entry)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, NotImplementedError) as e:
        raise _Corrupt(f"cannot read '{entry}' ({e})") from None


class _Decoder:
    def __init__(self, zf, names):
        self.zf = zf
        self.names = names
        self.tensors = {}

    def decode(self, v):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.decode(x) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise _Corrupt(f"unexpected value in the object structure: {v!r:.80}")
        if "$tensor" in v:
            return self._tensor(v)
        if "$ndarray" in v:
            return self._array(v["$ndarray"])
        if "$tuple" in v:
            return tuple(self.decode(x) for x in self._list(v["$tuple"]))
        if "$dict" in v:
            return {self._key(k): self.decode(x) for k, x in self._pairs(v["$dict"])}
        if "$odict" in v:
            out = OrderedDict((self._key(k), self.decode(x)) for k, x in self._pairs(v["$odict"]))
            if "metadata" in v:
                out._metadata = self.decode(v["metadata"])
            return out
        if "$float" in v:
            text = v["$float"]
            if text not in ("nan", "inf", "-inf"):
                raise _Corrupt(f"bad float value {text!r:.40}")
            return float(text)
        if "$dtype" in v:
            d = getattr(_dtype, str(v["$dtype"]), None)
            if not isinstance(d, _dtype.dtype):
                raise _Corrupt(f"unknown dtype {v['$dtype']!r:.40}")
            return d
        if "$size" in v:
            return Size(int(s) for s in self._list(v["$size"]))
        if "$complex" in v:
            re_, im = self._list(v["$complex"])
            return complex(self.decode(re_), self.decode(im))
        if "$bytes" in v:
            try:
                return bytes.fromhex(v["$bytes"])
            except (ValueError, TypeError):
                raise _Corrupt("bad bytes value") from None
        raise _Corrupt(f"unknown entry {sorted(v)[0]!r:.40} in the object structure")

    def _key(self, k):
        key = self.decode(k)
        try:
            hash(key)
        except TypeError:
            raise _Corrupt("a dict key is not hashable") from None
        return key

    @staticmethod
    def _list(v):
        if not isinstance(v, list):
            raise _Corrupt("expected a list in the object structure")
        return v

    def _pairs(self, v):
        for pair in self._list(v):
            if not isinstance(pair, list) or len(pair) != 2:
                raise _Corrupt("a dict entry is not a key/value pair")
            yield pair

    def _array(self, index) -> np.ndarray:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise _Corrupt(f"bad array reference {index!r:.40}")
        entry = f"{_TENSOR_DIR}{index}.npy"
        if entry not in self.names:
            raise _Corrupt(f"array {index} is missing")
        raw = _read_entry(self.zf, entry)
        try:
            arr = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise _Corrupt(f"array {index} is unreadable ({e})") from None
        if arr.dtype not in _ALLOWED_DTYPES:
            raise _Corrupt(f"array {index} has unsupported dtype {arr.dtype}")
        if not (arr.flags.c_contiguous and arr.flags.writeable):
            arr = arr.copy(order="C")
        return arr

    def _tensor(self, v):
        index = v["$tensor"]
        t = self.tensors.get(index) if isinstance(index, int) else None
        if t is None:
            arr = self._array(index)
            requires_grad = bool(v.get("requires_grad", False)) and arr.dtype.kind == "f"
            if v.get("parameter"):
                from .nn.parameter import Parameter

                t = Parameter(_wrap(arr), requires_grad)
            else:
                t = _wrap(arr)
                t._requires_grad = requires_grad
            self.tensors[index] = t
        return t
