"""Tensor: a NumPy array plus autograd metadata.  Operators and math methods are attached by
the op declarations in ``jitgrad.ops`` (one source of truth per op); this module holds the
storage, the autograd attributes and the methods that are not ops."""
import threading

import numpy as np

from . import _dtype
from . import errors
from ._device import CPU, device  # noqa: F401  (jitgrad.tensor.device: re-exported)
from ._tensor_str import tensor_repr
from .autograd import grad_mode
from .autograd.engine import run_backward
from .autograd.graph import accumulator_for


class Size(tuple):
    """A tensor's shape; a tuple that prints as ``torch.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self):
        return "torch.Size([" + ", ".join(str(s) for s in self) + "])"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __reduce__(self):
        return (Size, (tuple(self),))


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    Storage is a NumPy array (``_data``); views share it.  ``_vc`` is the version counter,
    a one-element list shared by a tensor and its views and bumped by every in-place op.
    """

    __slots__ = ("_data", "_requires_grad", "grad_fn", "_vc", "_output_nr", "__dict__", "__weakref__")

    # Defaults for rarely-set attributes (kept out of __slots__ so creating a tensor stays cheap).
    _grad = None
    _grad_acc = None
    _hooks = None
    _retains_grad = False
    _base = None
    __array_priority__ = 1000  # NumPy defers to our reflected operators

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        # torch.Tensor(2, 3) -> uninitialised float tensor; torch.Tensor(data) -> float copy
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            arr = np.array(args[0]._data if isinstance(args[0], Tensor) else args[0],
                           dtype=_dtype.get_default_dtype().np)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            arr = np.zeros(tuple(int(s) for s in shape), dtype=_dtype.get_default_dtype().np)
        self._data = arr
        self._requires_grad = False
        self.grad_fn = None
        self._vc = [0]
        self._output_nr = 0
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        """Return the shape, or the size of one dim."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    ndim = property(dim)

    def numel(self) -> int:
        """Number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype._FROM_NP[self._data.dtype]

    @property
    def device(self):
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self, memory_format=None) -> bool:
        return self._data.flags.c_contiguous

    def stride(self, dim=None):
        """Strides in elements, as PyTorch reports them."""
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def data_ptr(self) -> int:
        return self._data.ctypes.data

    # ------------------------------------------------------------------ autograd attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None:
            raise RuntimeError(errors.NON_LEAF_REQUIRES_GRAD_SHORT if value else errors.NON_LEAF_REQUIRES_GRAD)
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(errors.FLOAT_ONLY_GRAD_ATTRIBUTE)
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return self."""
        if self.grad_fn is not None:
            if requires_grad:
                return self  # a non-leaf already requires grad
            raise RuntimeError(errors.NON_LEAF_REQUIRES_GRAD)
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(errors.FLOAT_ONLY_GRAD_SETTER)
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            import warnings

            warnings.warn(errors.NON_LEAF_GRAD_ACCESS, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {_tp_name(value)}")
            if value is self:
                raise RuntimeError("can't assign Variable as its own grad")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{_TYPE_META_NAMES[value._data.dtype]}' to a tensor "
                    f"with grad_dtype '{_scalar_type_name(self._data.dtype)}'. The gradient must match the tensor's "
                    "grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with "
                    "a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes "
                    "of a tensor and its gradient may break downstream systems that assume they match."
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a tensor of size "
                    f"'{list(self._data.shape)}'. Please ensure that the gradient and the tensor are the same size"
                )
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def data(self) -> "Tensor":
        """The same storage, detached from the graph (changes to it are not tracked)."""
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        # PyTorch's checks: only a tensor (any size or dtype), and a float one while grad is required.
        # (A new size is allowed; the optimizers and AccumulateGrad check the shapes they combine.)
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {_tp_name(value)}")
        if self._requires_grad and value._data.dtype.kind != "f":
            raise RuntimeError("data set to a tensor that requires gradients must be floating point or complex dtype")
        self._data = value._data

    def detach(self) -> "Tensor":
        """A tensor sharing storage (and the version counter) that is not part of the graph."""
        t = _wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        """Detach in place: become a leaf that does not require grad."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        import weakref

        node = self.grad_fn
        node._hooked = True
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Register ``hook(grad) -> Tensor or None`` called with this tensor's gradient."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self._output_nr, hook)
        from .autograd.graph import RemovableHandle

        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def _accumulate_grad_graph(self, g: "Tensor") -> None:
        """AccumulateGrad under create_graph=True: ``.grad`` keeps the gradient's own graph."""
        if self._hooks:
            for hook in list(self._hooks):
                res = hook(g)
                if res is not None:
                    _checked_hook_result(hook, g._data, res)
                    g = res
        if g._data.dtype != self._data.dtype:
            g = g.to(self.dtype)
        with _accumulate_lock:
            if self._grad is None:
                self._grad = g if g._requires_grad else _wrap(np.array(g._data, order="C"))
            else:
                acc = self._grad._data
                if acc.shape != g._data.shape:
                    _checked_grad_update(acc, g._data)  # raises PyTorch's error if it cannot broadcast
                self._grad = self._grad + g  # out of place, so the graph of the old .grad survives

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Compute the gradient of this tensor w.r.t. graph leaves and accumulate it in ``.grad``."""
        node = self.grad_fn
        if gradient is None and inputs is None and not create_graph and node is not None and self._data.size == 1:
            # the common `loss.backward()`: skip the general argument handling
            d = self._data
            seed = np.array(1, d.dtype) if d.ndim == 0 else np.ones(d.shape, d.dtype)  # (np.ones is slow)
            run_backward(((node, self._output_nr),), (seed,), bool(retain_graph))
            return
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The NumPy array sharing this tensor's storage (zero-copy)."""
        if self._requires_grad and not force:
            raise RuntimeError(errors.NUMPY_REQUIRES_GRAD)
        return self._data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self._data.tolist()

    def __float__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return float(self.item())

    def __int__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(()).item())

    def __bool__(self):
        if self._data.size != 1:
            if self._data.size == 0:
                raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))  # as PyTorch: one UnbindBackward0 node for all the rows

    def __hash__(self):
        return id(self)

    def __pos__(self):
        return self

    def __contains__(self, element):
        value = element._data if isinstance(element, Tensor) else element
        return bool((self._data == value).any())

    def __repr__(self, *, tensor_contents=None):
        name = None if self.grad_fn is None else self.grad_fn.name()
        return tensor_repr(self._data, self.dtype.name, requires_grad=self._requires_grad, grad_fn_name=name)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the moment."
            )
        t = _wrap(self._data.copy())
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = _wrap(self._grad._data.copy())
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------------ dtype conversion (untracked for ints)
    def type(self, dtype=None, non_blocking=False, **kwargs):
        """The legacy type name ('torch.FloatTensor'), or a conversion to a dtype, a legacy type or its name."""
        if dtype is None:
            return "torch." + self.dtype._legacy
        from ._legacy import dtype_of

        return self.to(dtype_of(dtype))

    def cpu(self, memory_format=None) -> "Tensor":
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None) -> "Tensor":
        """PyTorch's error of a CPU-only build (jitgrad computes on the CPU)."""
        if isinstance(device, int) and not isinstance(device, bool):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        raise AssertionError("Torch not compiled with CUDA enabled")

    def get_device(self) -> int:
        """-1: a CPU tensor."""
        return -1

    def contiguous(self, memory_format=None) -> "Tensor":
        """Self if C-contiguous, else a contiguous copy (recorded as CloneBackward0)."""
        if self._data.flags.c_contiguous:
            return self
        return self.clone()


def _rebuild(data, requires_grad):
    t = _wrap(data)
    t._requires_grad = requires_grad
    return t


def _wrap(array: np.ndarray) -> Tensor:
    """A new leaf Tensor around ``array`` (no copy), not requiring grad.  The hot-path constructor."""
    t = Tensor.__new__(Tensor)
    t._data = array
    t._requires_grad = False
    t.grad_fn = None
    t._vc = [0]
    t._output_nr = 0
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    """Normalise a possibly negative dim, with PyTorch's error (0-d tensors accept -1 and 0)."""
    n = ndim if ndim > 0 else 1
    if dim < -n or dim >= n:
        raise errors.dim_out_of_range(dim, ndim)
    return dim + n if dim < 0 else dim


def _run_tensor_hooks(hooks, g: np.ndarray) -> np.ndarray:
    """Call tensor hooks in order; a hook may return a replacement gradient."""
    for hook in list(hooks):
        with grad_mode.no_grad():
            res = hook(_wrap(g))
        if res is not None:
            g = _checked_hook_result(hook, g, res)
    return g


# ---------------------------------------------------------------------- gradient checks
# Gradients reach kernels that trust their size (optimizers, in-place accumulation), so what a
# hook returns and what is accumulated into a replaced ``.grad`` is checked here, with PyTorch's
# errors.

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_accumulate_lock = threading.Lock()

# c10 TypeMeta names, as PyTorch's ``.grad`` setter prints them
_TYPE_META_NAMES = {np.dtype(k): v for k, v in (
    (np.float16, "c10::Half"), (np.float32, "float"), (np.float64, "double"), (np.uint8, "unsigned char"),
    (np.int8, "signed char"), (np.int16, "short int"), (np.int32, "int"), (np.int64, "long int"),
    (np.bool_, "bool"))}


def _tp_name(obj) -> str:
    """The type name PyTorch's C++ code prints (CPython's ``tp_name``): ``int``, ``numpy.ndarray``, ``Tensor``."""
    cls = type(obj)
    if cls.__flags__ & _HEAPTYPE or cls.__module__ == "builtins":
        return cls.__name__
    return f"{cls.__module__}.{cls.__name__}"


def _scalar_type_name(np_dtype) -> str:
    """PyTorch's ScalarType name: ``Float``, ``Long``..."""
    return _dtype._FROM_NP[np_dtype]._legacy[: -len("Tensor")]


def _hook_name(hook) -> str:
    name = getattr(hook, "__name__", None)
    return name if isinstance(name, str) else "<unknown>"


def _checked_hook_result(hook, original, res) -> np.ndarray:
    """The array of ``res``, the value ``hook`` returned for the gradient ``original`` (an array or
    None), with PyTorch's checks: a hook may not change a gradient's type or size."""
    if original is None:
        raise RuntimeError("can't replace a None gradient with a non-None value")
    if not isinstance(res, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{_tp_name(res)}'")
    r = res._data
    if r.dtype != original.dtype:
        was, got = _dtype._FROM_NP[original.dtype]._legacy, _dtype._FROM_NP[r.dtype]._legacy
        raise RuntimeError(f"hook '{_hook_name(hook)}' has changed the type of value (was torch.{was} got torch.{got})")
    if r.shape != original.shape:
        raise RuntimeError(f"hook '{_hook_name(hook)}' has changed the size of value")
    return r


def _checked_hook_results(hook, originals, res) -> tuple:
    """``res``, what a node pre- or post-hook returned for the gradients ``originals`` (a tuple of
    Tensors or None), checked as PyTorch does: a tuple of as many values, each None or a Tensor of
    the gradient's type and size (None where the gradient is None)."""
    if not isinstance(res, tuple):
        raise TypeError(f"expected tuple, but hook returned '{_tp_name(res)}'")
    if len(res) != len(originals):
        raise RuntimeError(
            f"hook '{_hook_name(hook)}' has returned an incorrect number of values "
            f"(got {len(res)}, but expected {len(originals)})"
        )
    for o, r in zip(originals, res):
        if r is not None:
            _checked_hook_result(hook, None if o is None else o._data, r)
    return res


def _checked_grad_update(acc: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``g`` if ``acc += g`` is valid for a ``.grad`` the user replaced (or whose ``.data`` was set),
    else PyTorch's error: ``g`` must broadcast to ``acc``'s shape and cast to its dtype, and ``acc``
    must be writable without two elements sharing memory (an ``expand``)."""
    if acc.shape != g.shape:
        err = inplace_broadcast_error(acc.shape, g.shape)
        if err is not None:
            raise err
    if not np.can_cast(g.dtype, acc.dtype, casting="same_kind"):
        raise RuntimeError(
            f"result type {_scalar_type_name(g.dtype)} can't be cast to the desired output type "
            f"{_scalar_type_name(acc.dtype)}"
        )
    if not acc.flags.writeable:
        raise unwritable_error(acc)
    return g


def unwritable_error(a: np.ndarray) -> RuntimeError:
    """The error for an in-place update of the read-only array ``a``: PyTorch's when ``a`` is an
    ``expand`` (elements sharing memory), else jitgrad's (a read-only NumPy array)."""
    if any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape)):
        return RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a single "
            "memory location. Please clone() the tensor before performing the operation."
        )
    return RuntimeError("jitgrad: cannot update a tensor in place whose NumPy storage is read-only; clone() it first")


def inplace_broadcast_error(out_shape, other_shape):
    """PyTorch's error for ``out op= other`` when ``other`` does not broadcast to ``out``'s shape, else None."""
    try:
        shape = np.broadcast_shapes(tuple(out_shape), tuple(other_shape))
    except ValueError:
        return errors.broadcast_error(out_shape, other_shape)
    if shape != tuple(out_shape):
        return RuntimeError(f"output with shape {list(out_shape)} doesn't match the broadcast shape {list(shape)}")
    return None


def edge(t: Tensor):
    """The graph edge a new node uses to reach input ``t``: its grad_fn or its AccumulateGrad."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t._requires_grad:
        return (accumulator_for(t), 0)
    return (None, 0)
