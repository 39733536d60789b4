"""Tensor printing, ported from PyTorch's ``torch/_tensor_str.py``.

The algorithm (``_Formatter``, ``_tensor_str_with_formatter``,
``get_summarized_data``, ``_add_suffixes`` and the suffix rules of
``_str_intern``) is kept as in PyTorch so that ``repr`` of a jitgrad tensor is
character-for-character what PyTorch prints.  It operates on NumPy arrays and
only covers what jitgrad has: dense CPU tensors of real or bool dtype.  The
complex, sparse, quantized, nested, meta, functorch and device branches are
dropped.

As in PyTorch, every number is formatted with Python's own ``format`` applied
to the Python scalar (``.item()`` / ``.tolist()``), so the rounding is the same
double-precision rounding PyTorch uses.
"""

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = [
    "PRINT_OPTS",
    "set_printoptions",
    "get_printoptions",
    "printoptions",
    "tensor_repr",
]


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(
    precision=None,
    threshold=None,
    edgeitems=None,
    linewidth=None,
    profile=None,
    sci_mode=None,
):
    r"""Set options for printing.  Same semantics as ``torch.set_printoptions``.

    Args:
        precision: Number of digits of precision for floating point output
            (default = 4).
        threshold: Total number of array elements which trigger summarization
            rather than full `repr` (default = 1000).
        edgeitems: Number of array items in summary at beginning and end of
            each dimension (default = 3).
        linewidth: The number of characters per line for the purpose of
            inserting line breaks (default = 80). Thresholded matrices will
            ignore this parameter.
        profile: Sane defaults for pretty printing. Can override with any of
            the above options. (any one of `default`, `short`, `full`)
        sci_mode: Enable (True) or disable (False) scientific notation. If
            None (default) is specified, the value is chosen automatically.
            Like PyTorch, every call sets it (to None when not given).
    """
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision = 4
            PRINT_OPTS.threshold = 1000
            PRINT_OPTS.edgeitems = 3
            PRINT_OPTS.linewidth = 80
        elif profile == "short":
            PRINT_OPTS.precision = 2
            PRINT_OPTS.threshold = 1000
            PRINT_OPTS.edgeitems = 2
            PRINT_OPTS.linewidth = 80
        elif profile == "full":
            PRINT_OPTS.precision = 4
            PRINT_OPTS.threshold = math.inf
            PRINT_OPTS.edgeitems = 3
            PRINT_OPTS.linewidth = 80

    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    r"""Current print options, as a dict that can be passed to set_printoptions()."""
    return dataclasses.asdict(PRINT_OPTS)


class printoptions:
    r"""Context manager that temporarily changes the print options.

    Accepts the same arguments as :func:`set_printoptions`.
    """

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._old = None

    def __enter__(self):
        self._old = get_printoptions()
        set_printoptions(**self._kwargs)
        return self

    def __exit__(self, *exc):
        set_printoptions(**self._old)
        return False


# torch dtype name -> NumPy dtype.  Only these dtypes exist in jitgrad.
_NUMPY_DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "int64": np.dtype(np.int64),
    "int32": np.dtype(np.int32),
    "int16": np.dtype(np.int16),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "bool": np.dtype(np.bool_),
}
_FLOATING = frozenset({"float32", "float64", "float16"})


class _Formatter:
    def __init__(self, values, floating_dtype):
        # ``values``: the (possibly summarized) data as a NumPy array.
        self.floating_dtype = floating_dtype
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1

        tensor_view = values.reshape(-1)

        if not self.floating_dtype:
            for value in tensor_view.tolist():
                value_str = f"{value}"
                self.max_width = max(self.max_width, len(value_str))

        else:
            nonzero_finite_vals = tensor_view[
                np.isfinite(tensor_view) & (tensor_view != 0)
            ]

            if nonzero_finite_vals.size == 0:
                # no valid number, do nothing
                return

            # Convert to double for easy calculation (half overflows with 1e8).
            nonzero_finite_abs = np.abs(nonzero_finite_vals).astype(np.float64)
            nonzero_finite_min = float(nonzero_finite_abs.min())
            nonzero_finite_max = float(nonzero_finite_abs.max())

            # Same test as PyTorch's "value != torch.ceil(value)" loop.
            self.int_mode = bool(
                np.all(nonzero_finite_vals == np.ceil(nonzero_finite_vals))
            )

            self.sci_mode = (
                nonzero_finite_max / nonzero_finite_min > 1000.0
                or nonzero_finite_max > 1.0e8
                or nonzero_finite_min < 1.0e-4
                if PRINT_OPTS.sci_mode is None
                else PRINT_OPTS.sci_mode
            )

            vals = nonzero_finite_vals.tolist()  # Python floats (doubles)
            # (PyTorch's int_mode / sci_mode branches, with its two identical sci_mode loops as one)
            if self.sci_mode:
                widths = [len(f"{{:.{PRINT_OPTS.precision}e}}".format(value)) for value in vals]
            elif self.int_mode:
                # in int_mode for floats, all numbers are integers, and we append a
                # decimal to nonfinites to indicate that the tensor is of floating
                # type. add 1 to the len to account for this.
                widths = [len(f"{value:.0f}") + 1 for value in vals]
            else:
                widths = [len(f"{{:.{PRINT_OPTS.precision}f}}".format(value)) for value in vals]
            self.max_width = max(self.max_width, max(widths))

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating_dtype:
            if self.sci_mode:
                ret = f"{{:{self.max_width}.{PRINT_OPTS.precision}e}}".format(value)
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{{:.{PRINT_OPTS.precision}f}}".format(value)
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _scalar_str(self, formatter):
    return formatter.format(self.item())


def _vector_str(self, indent, summarize, formatter):
    # length includes spaces and comma between elements
    element_length = formatter.width() + 2
    elements_per_line = max(
        1, math.floor((PRINT_OPTS.linewidth - indent) / (element_length))
    )

    if summarize and not PRINT_OPTS.edgeitems:
        # Deal with edge case that negative zero is zero
        data = ["..."]
    elif summarize and self.shape[0] > 2 * PRINT_OPTS.edgeitems:
        data = (
            [formatter.format(val) for val in self[: PRINT_OPTS.edgeitems].tolist()]
            + [" ..."]
            + [formatter.format(val) for val in self[-PRINT_OPTS.edgeitems :].tolist()]
        )
    else:
        data = [formatter.format(val) for val in self.tolist()]

    data_lines = [
        data[i : i + elements_per_line] for i in range(0, len(data), elements_per_line)
    ]
    lines = [", ".join(line) for line in data_lines]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(self, indent, summarize, formatter):
    dim = self.ndim

    if dim == 0:
        return _scalar_str(self, formatter)

    if dim == 1:
        return _vector_str(self, indent, summarize, formatter)

    if summarize and self.shape[0] > 2 * PRINT_OPTS.edgeitems:
        slices = (
            [
                _tensor_str_with_formatter(self[i], indent + 1, summarize, formatter)
                for i in range(PRINT_OPTS.edgeitems)
            ]
            + ["..."]
            + [
                _tensor_str_with_formatter(self[i], indent + 1, summarize, formatter)
                for i in range(len(self) - PRINT_OPTS.edgeitems, len(self))
            ]
        )
    else:
        slices = [
            _tensor_str_with_formatter(self[i], indent + 1, summarize, formatter)
            for i in range(self.shape[0])
        ]

    tensor_str = ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices)
    return "[" + tensor_str + "]"


def _tensor_str(self, indent, floating_dtype):
    if self.size == 0:
        return "[]"

    summarize = self.size > PRINT_OPTS.threshold

    formatter = _Formatter(
        get_summarized_data(self) if summarize else self, floating_dtype
    )
    return _tensor_str_with_formatter(self, indent, summarize, formatter)


def _add_suffixes(tensor_str, suffixes, indent, force_newline):
    tensor_strs = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        suffix_len = len(suffix)
        if force_newline or last_line_len + suffix_len + 2 > PRINT_OPTS.linewidth:
            tensor_strs.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
            force_newline = False
        else:
            tensor_strs.append(", " + suffix)
            last_line_len += suffix_len + 2
    tensor_strs.append(")")
    return "".join(tensor_strs)


def get_summarized_data(self):
    """The elements shown by a summarized print (shape as in PyTorch)."""
    dim = self.ndim
    if dim == 0:
        return self
    if dim == 1:
        if self.shape[0] > 2 * PRINT_OPTS.edgeitems:
            # NB: with edgeitems == 0 this is ``self[:0]`` + ``self[-0:]``, i.e.
            # the whole vector, exactly as in PyTorch.
            return np.concatenate(
                (self[: PRINT_OPTS.edgeitems], self[-PRINT_OPTS.edgeitems :])
            )
        else:
            return self
    if not PRINT_OPTS.edgeitems:
        return np.empty([0] * dim, dtype=self.dtype)
    elif self.shape[0] > 2 * PRINT_OPTS.edgeitems:
        start = [self[i] for i in range(PRINT_OPTS.edgeitems)]
        end = [self[i] for i in range(len(self) - PRINT_OPTS.edgeitems, len(self))]
        return np.stack([get_summarized_data(x) for x in (start + end)])
    else:
        return np.stack([get_summarized_data(x) for x in self])


def _normalize_dtype_name(dtype_name):
    name = str(dtype_name)
    if name.startswith("torch."):
        name = name[len("torch.") :]
    if name not in _NUMPY_DTYPES:
        raise ValueError(
            f"tensor_repr: unsupported dtype {dtype_name!r}; "
            f"expected one of {sorted(_NUMPY_DTYPES)}"
        )
    return name


def tensor_repr(
    array: np.ndarray,
    dtype_name: str,
    *,
    requires_grad: bool = False,
    grad_fn_name: str | None = None,
    prefix: str = "tensor(",
    default_dtype_name: str = "float32",
) -> str:
    """Return what ``repr()`` of a CPU PyTorch tensor with these values prints.

    Args:
        array: the tensor's values.  Cast to ``dtype_name`` if its NumPy dtype
            differs.
        dtype_name: torch dtype name without "torch.", e.g. "float32", "int64".
        requires_grad: print ``requires_grad=True`` (only when no grad_fn).
        grad_fn_name: e.g. "AddBackward0"; printed as ``grad_fn=<AddBackward0>``.
        prefix: the text before the values, "tensor(" for plain tensors or
            "<SubclassName>(" as PyTorch does for subclasses.  Continuation
            lines are indented by ``len(prefix)``.
        default_dtype_name: what ``torch.get_default_dtype()`` would return
            (without "torch."); decides which float dtype prints no suffix.
    """
    name = _normalize_dtype_name(dtype_name)
    default_name = _normalize_dtype_name(default_dtype_name)
    np_dtype = _NUMPY_DTYPES[name]
    self = np.asarray(array)
    if self.dtype != np_dtype:
        self = self.astype(np_dtype)

    indent = len(prefix)
    suffixes = []
    dtype_suffix = "dtype=torch." + name

    if self.size == 0:
        # Explicitly print the shape if it is not (0,), to match NumPy behavior
        if self.ndim != 1:
            suffixes.append("size=" + str(tuple(self.shape)))
        # In an empty tensor, there are no elements to infer if the dtype
        # should be int64, so it must be shown explicitly.
        if name != default_name:
            suffixes.append(dtype_suffix)
        tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(tuple(self.shape)))
        # PyTorch's ``has_default_dtype``: the default float dtype, int64, bool.
        # (The default complex dtype is dropped: jitgrad has no complex dtypes.)
        if name not in (default_name, "int64", "bool"):
            suffixes.append(dtype_suffix)
        tensor_str = _tensor_str(self, indent, name in _FLOATING)

    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")

    return _add_suffixes(prefix + tensor_str, suffixes, indent, force_newline=False)
