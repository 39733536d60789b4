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
file fail with a clear ``RuntimeError`` instead of loading garbage.  Nothing in a file can make
``load`` allocate more than the data it really holds: each entry's declared size is checked (against
its compressed size and a budget of the machine's memory) before it is read, and each ``.npy``
header must describe exactly the bytes that follow it.
"""
import io
import json
import math
import os
import struct
import zlib
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
_DEFLATE_MAX_RATIO = 1032  # the most a DEFLATE stream can expand; a larger declared size is a lie
_MAX_LOAD_BYTES = None  # the total bytes one load may decompress; None: the machine's physical memory


def _load_budget() -> int:
    if _MAX_LOAD_BYTES is not None:
        return _MAX_LOAD_BYTES
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): a fixed 64 GiB
        return 64 << 30


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
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _read_checked(fh, name)
    return _read_checked(f, name)


def _read_checked(fh, name):
    try:
        return _read(fh, name)
    except _Corrupt as e:
        raise RuntimeError(f"jitgrad.load: {name!s} is corrupt or truncated: {e}") from None
    except (zlib.error, struct.error, EOFError, KeyError, IndexError, ValueError, TypeError, OverflowError,
            NotImplementedError, UnicodeError) as e:
        # a damaged archive can still trip the zip reader somewhere the checks above do not cover:
        # report it like any other corruption, never as a low-level error
        raise RuntimeError(f"jitgrad.load: {name!s} is corrupt or truncated: {type(e).__name__}: {e}") from None


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
        magic = _read_entry(zf, _FORMAT_ENTRY, [64])
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
        budget = [_load_budget()]
        try:
            doc = json.loads(_read_entry(zf, _DATA_ENTRY, budget).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise _Corrupt(f"the object structure is not valid JSON ({e})") from None
        if not isinstance(doc, dict) or "object" not in doc:
            raise _Corrupt("the object structure has no root")
        decoder = _Decoder(zf, names, budget)
        try:
            return decoder.decode(doc["object"])
        except RecursionError:
            raise _Corrupt("the object structure is nested too deeply") from None


def _read_entry(zf, entry, budget: list) -> bytes:
    """The bytes of ``entry``, after checking the size it declares: consistent with its compressed
    size, and within ``budget[0]``, the bytes this load may still decompress (then reduced)."""
    import zipfile

    try:
        info = zf.getinfo(entry)
        size, packed = info.file_size, info.compress_size
        if info.compress_type == zipfile.ZIP_STORED:
            if size != packed:
                raise _Corrupt(f"'{entry}' declares {size} bytes but holds {packed}")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if size > _DEFLATE_MAX_RATIO * packed + 64:
                raise _Corrupt(f"'{entry}' declares {size} bytes, more than its {packed} compressed bytes can hold")
        else:  # jitgrad writes stored entries; bzip2/LZMA streams are not read (their expansion is unbounded)
            raise _Corrupt(f"'{entry}' uses an unsupported compression method ({info.compress_type})")
        if size > budget[0]:
            raise _Corrupt(f"'{entry}' declares {size} bytes, more than this load may decompress "
                           f"({budget[0]} bytes left of the limit)")
        budget[0] -= size
        return zf.read(entry)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, NotImplementedError, zlib.error,
            struct.error) as e:
        raise _Corrupt(f"cannot read '{entry}' ({e})") from None


class _Decoder:
    def __init__(self, zf, names, budget):
        self.zf = zf
        self.names = names
        self.budget = budget
        self.tensors = {}
        self.arrays_read = set()  # each array entry is read once: references cannot multiply the data

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
            sizes = self._list(v["$size"])
            if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
                raise _Corrupt("bad torch.Size value")
            return Size(sizes)
        if "$complex" in v:
            parts = [self.decode(x) for x in self._list(v["$complex"])]
            if len(parts) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in parts):
                raise _Corrupt("bad complex value")
            return complex(*parts)
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
        if index in self.arrays_read:
            raise _Corrupt(f"array {index} is referenced twice")
        self.arrays_read.add(index)
        return _parse_npy(_read_entry(self.zf, entry, self.budget), index)

    def _tensor(self, v):  # (a tensor saved twice is one entry, decoded once and shared)
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


def _parse_npy(raw: bytes, index) -> np.ndarray:
    """The array in a ``.npy`` entry: the header is parsed and checked (an allowed dtype, a shape
    whose byte count is exactly what follows the header) before anything is allocated, so a header
    declaring more than the file holds is refused, never allocated."""
    fmt = np.lib.format
    f = io.BytesIO(raw)
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, SyntaxError, TypeError, OverflowError, MemoryError, UnicodeError, struct.error) as e:
        raise _Corrupt(f"array {index} is unreadable ({e})") from None
    if dtype not in _ALLOWED_DTYPES:
        raise _Corrupt(f"array {index} is unreadable (unsupported dtype {dtype})")
    if any(d < 0 for d in shape):
        raise _Corrupt(f"array {index} is unreadable (negative dimension in {shape})")
    count = math.prod(shape)
    held = len(raw) - f.tell()
    if count * dtype.itemsize != held:
        raise _Corrupt(f"array {index} is unreadable (its header declares {count * dtype.itemsize} bytes of data, "
                       f"the entry holds {held})")
    arr = np.frombuffer(raw, dtype, count, f.tell()).reshape(shape, order="F" if fortran else "C")
    return arr.copy(order="C")  # writable and C-contiguous (raw bytes are read-only)
