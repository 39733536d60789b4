"""Recurrent layers: ``RNN LSTM GRU`` and their cells ``RNNCell LSTMCell GRUCell``.

PyTorch's constructors, parameter names and order (``weight_ih_l0, weight_hh_l0, bias_ih_l0,
bias_hh_l0[, weight_hr_l0]``, then ``..._reverse``), initialisation (every parameter
U(-1/sqrt(hidden), 1/sqrt(hidden)), so after the same ``manual_seed`` the same weights), gate
orders (LSTM: i, f, g, o; GRU: r, z, n with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``),
shapes, checks and error texts.  The layers are composed from differentiable ops, so autograd
(and double backward) gives the gradients: per layer and direction the input projection of all
time steps is one matmul, and only the recurrent product ``h @ W_hh^T`` runs per step.
"""
import math
import numbers
import warnings

import numpy as np

from ... import factories
from ...ops.joining import cat, stack
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_ADDMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _scalar_type(dtype) -> str:
    return dtype._legacy[:-len("Tensor")]  # FloatTensor -> Float, as ATen names it


def _check_same_dtype(mat1, weight) -> None:
    if mat1.dtype != weight.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_scalar_type(mat1.dtype)} and "
                           f"{_scalar_type(weight.dtype)}")


def _affine(h, w_t, b):
    """``h @ w_t + b`` as one ``AddmmBackward0`` node where the dtype allows it."""
    if b is None:
        return h.mm(w_t)
    if h._data.dtype in _ADDMM_DTYPES:
        return F._addmm(b, h, w_t)
    return h.mm(w_t) + b


# ---------------------------------------------------------------- one time step (gi: x W_ih^T + b_ih)
def _tanh_step(gi, h, w_hh_t, b_hh):
    return (gi + _affine(h, w_hh_t, b_hh)).tanh()


def _relu_step(gi, h, w_hh_t, b_hh):
    return (gi + _affine(h, w_hh_t, b_hh)).relu()


def _lstm_step(gi, h, c, w_hh_t, b_hh, hidden_size):
    gates = gi + _affine(h, w_hh_t, b_hh)
    i, f, _, o = gates.sigmoid().chunk(4, 1)  # (the g quarter of the sigmoid is unused)
    c = f * c + i * gates.narrow(1, 2 * hidden_size, hidden_size).tanh()
    return o * c.tanh(), c


def _gru_step(gi_rz, gi_n, h, w_hh_t, b_hh, hidden_size):
    gh_rz, gh_n = _affine(h, w_hh_t, b_hh).split([2 * hidden_size, hidden_size], 1)
    r, z = (gi_rz + gh_rz).sigmoid().chunk(2, 1)
    n = (gi_n + r * gh_n).tanh()
    return (h - n) * z + n  # = (1 - z) * n + z * h, as ATen computes it


def _mini_batch(module, input, batch_sizes) -> int:
    if batch_sizes is not None:
        return int(batch_sizes[0])
    return input.size(0) if module.batch_first else input.size(1)


def _run_direction(mode, x, h, c, weights, hidden_size, reverse, batch_sizes):
    """One layer in one direction: (output, h_T, c_T).  ``x`` is time-major (T, B, in), or with
    ``batch_sizes`` (a list of ints) a packed sequence's data (sum(batch_sizes), in)."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    gi = F.linear(x, w_ih, b_ih)  # every time step's input projection in one matmul

    def per_step(t):  # a tensor over all steps -> one tensor per step
        return t.unbind(0) if batch_sizes is None else t.split(batch_sizes, 0)

    w_hh_t = w_hh.t()
    if mode == "LSTM":
        gis = per_step(gi)
        w_hr_t = None if w_hr is None else w_hr.t()

        def cell(t, h, c):
            h, c = _lstm_step(gis[t], h, c, w_hh_t, b_hh, hidden_size)
            return (h if w_hr_t is None else h.mm(w_hr_t)), c
    elif mode == "GRU":
        gi_rz, gi_n = gi.split([2 * hidden_size, hidden_size], -1)
        gi_rz, gi_n = per_step(gi_rz), per_step(gi_n)

        def cell(t, h, c):
            return _gru_step(gi_rz[t], gi_n[t], h, w_hh_t, b_hh, hidden_size), c
    else:
        step = _tanh_step if mode == "RNN_TANH" else _relu_step
        gis = per_step(gi)

        def cell(t, h, c):
            return step(gis[t], h, w_hh_t, b_hh), c

    steps = x.shape[0] if batch_sizes is None else len(batch_sizes)
    outs = [None] * steps
    if batch_sizes is None:
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            h, c = cell(t, h, c)
            outs[t] = h
        return stack(outs), h, c
    # packed: the batch shrinks as sequences end (sorted by decreasing length)
    if reverse:  # from the last step; sequences join as the time runs back to their ends
        h0, c0 = h, c
        rows = batch_sizes[-1]
        h = h0[:rows]
        c = None if c0 is None else c0[:rows]
        for t in range(steps - 1, -1, -1):
            size = batch_sizes[t]
            if size > rows:
                h = cat([h, h0[rows:size]], 0)
                c = None if c0 is None else cat([c, c0[rows:size]], 0)
                rows = size
            h, c = cell(t, h, c)
            outs[t] = h
        return cat(outs, 0), h, c
    finals_h, finals_c = [], []
    for t in range(steps):
        size = batch_sizes[t]
        if size < h.shape[0]:  # the sequences that ended keep their last state
            finals_h.append(h[size:])
            h = h[:size]
            if c is not None:
                finals_c.append(c[size:])
                c = c[:size]
        h, c = cell(t, h, c)
        outs[t] = h
    if finals_h:
        h = cat([h] + finals_h[::-1], 0)
        c = None if c is None else cat([c] + finals_c[::-1], 0)
    return cat(outs, 0), h, c


class RNNBase(Module):
    """The shared machinery of ``RNN``, ``LSTM`` and ``GRU`` (``mode``: ``'RNN_TANH'``,
    ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``)."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1

        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size

        factory = {} if dtype is None else {"dtype": dtype}
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
            for direction in range(num_directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input_size)), ("weight_hh", (gate_size, real_hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(factories.empty(shape, **factory)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction, as lists in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op (PyTorch packs the weights for cuDNN here)."""

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # ------------------------------------------------------------------ checks (PyTorch's texts)
    def check_input(self, input, batch_sizes) -> None:
        weight_dtype = self.weight_ih_l0.dtype
        if input.dtype != weight_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                             f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes) -> tuple:
        mini_batch = _mini_batch(self, input, batch_sizes)
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, size)

    def check_hidden_size(self, hx, expected_hidden_size, msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.size()) != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ------------------------------------------------------------------ the recurrence
    def _zeros(self, input, size, batch_sizes=None):
        num_directions = 2 if self.bidirectional else 1
        batch = _mini_batch(self, input, batch_sizes)
        return factories.zeros(self.num_layers * num_directions, batch, size, dtype=input.dtype)

    def _run(self, input, h0, c0=None, batch_sizes=None):
        """The stacked layers over batched ``input`` (or a packed sequence's data and
        ``batch_sizes``, a list of ints): (output, h_n, c_n or None)."""
        padded = batch_sizes is None
        if padded and self.batch_first:
            input = input.transpose(0, 1)
        if padded and input.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        weight = self.weight_ih_l0
        _check_same_dtype(h0, weight)
        if c0 is not None:
            _check_same_dtype(c0, weight)
        num_directions = 2 if self.bidirectional else 1
        h0s = h0.unbind(0)
        c0s = c0.unbind(0) if c0 is not None else None
        h_n, c_n = [], []
        x = input
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                suffix = "_reverse" if direction else ""
                weights = (getattr(self, f"weight_ih_l{layer}{suffix}"), getattr(self, f"weight_hh_l{layer}{suffix}"),
                           getattr(self, f"bias_ih_l{layer}{suffix}") if self.bias else None,
                           getattr(self, f"bias_hh_l{layer}{suffix}") if self.bias else None,
                           getattr(self, f"weight_hr_l{layer}{suffix}") if self.proj_size > 0 else None)
                out, h, c = _run_direction(self.mode, x, h0s[k], c0s[k] if c0s is not None else None, weights,
                                           self.hidden_size, direction == 1, batch_sizes)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if num_directions == 1 else cat(outs, -1)
        if padded and self.batch_first:
            x = x.transpose(0, 1)
        return x, stack(h_n), (stack(c_n) if c0 is not None else None)

    def _forward_single(self, input, hx, name: str, what: str):
        """``RNN`` / ``GRU`` forward: (output, h_n)."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = [int(b) for b in batch_sizes.tolist()]
            hx = self._zeros(data, self.hidden_size, sizes) if hx is None else self.permute_hidden(hx, sorted_indices)
            self.check_forward_args(data, hx, sizes)
            output, hidden, _ = self._run(data, hx, None, sizes)
            return (PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices),
                    self.permute_hidden(hidden, unsorted_indices))
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{what} instead")
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
            if hx is not None:
                if hx.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
        elif hx is not None and hx.dim() != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
        if hx is None:
            hx = self._zeros(input, self.hidden_size)
        self.check_forward_args(input, hx, None)
        output, hidden, _ = self._run(input, hx)
        if not is_batched:
            output = output.squeeze(batch_dim)
            hidden = hidden.squeeze(1)
        return output, hidden


class RNN(RNNBase):
    """An Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ``relu``).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None)``
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        """``input`` (L, N, H_in) (or (N, L, H_in) with ``batch_first``, or unbatched (L, H_in)),
        ``hx`` (D * num_layers, N, H_out) or None: returns ``(output, h_n)``."""
        return self._forward_single(input, hx, "RNN", " tensor")


class LSTM(RNNBase):
    """A long short-term memory RNN (gates i, f, g, o; ``proj_size`` projects ``h``).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0, device=None, dtype=None)``
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes) -> tuple:
        mini_batch = _mini_batch(self, input, batch_sizes)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def forward(self, input, hx=None):
        """``hx``: ``(h_0, c_0)`` or None; returns ``(output, (h_n, c_n))``."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = [int(b) for b in batch_sizes.tolist()]
            if hx is None:
                real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
                hx = (self._zeros(data, real_hidden_size, sizes), self._zeros(data, self.hidden_size, sizes))
            else:
                hx = self.permute_hidden(hx, sorted_indices)
            self.check_forward_args(data, hx, sizes)
            output, h_n, c_n = self._run(data, hx[0], hx[1], sizes)
            return (PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices),
                    self.permute_hidden((h_n, c_n), unsorted_indices))
        if input.dim() not in (2, 3):
            raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        if hx is None:
            real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
            hx = (self._zeros(input, real_hidden_size), self._zeros(input, self.hidden_size))
        else:
            if is_batched:
                if hx[0].dim() != 3 or hx[1].dim() != 3:
                    raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                       f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            else:
                if hx[0].dim() != 2 or hx[1].dim() != 2:
                    raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                       f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx, None)
        output, h_n, c_n = self._run(input, hx[0], hx[1])
        if not is_batched:
            output = output.squeeze(batch_dim)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """A gated recurrent unit RNN (gates r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, device=None, dtype=None)``
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        """``hx`` (D * num_layers, N, H_out) or None: returns ``(output, h_n)``."""
        return self._forward_single(input, hx, "GRU", "")


# ==================================================================== cells
def _check_cell(input, hx, module, idx: int) -> None:
    """ATen's checks of a cell's input and hidden state."""
    if input.size(1) != module.input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {module.input_size}")
    if hx.size(0) != input.size(0):
        raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{idx} batch size {hx.size(0)}")
    if hx.size(1) != module.hidden_size:
        raise RuntimeError(
            f"hidden{idx} has inconsistent hidden_size: got {hx.size(1)}, expected {module.hidden_size}")
    _check_same_dtype(input, module.weight_ih)
    _check_same_dtype(hx, module.weight_hh)


class RNNCellBase(Module):
    """The parameters shared by the cells: ``weight_ih`` (chunks*hidden, input), ``weight_hh``
    (chunks*hidden, hidden), ``bias_ih``, ``bias_hh`` (or None without ``bias``)."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        factory = {} if dtype is None else {"dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(factories.empty((num_chunks * hidden_size, input_size), **factory))
        self.weight_hh = Parameter(factories.empty((num_chunks * hidden_size, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(factories.empty(num_chunks * hidden_size, **factory))
            self.bias_hh = Parameter(factories.empty(num_chunks * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input, hx, name: str):
        """(batched input, batched hx or None, is_batched) after PyTorch's dimension checks."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
            if hx is not None:
                hx = hx.unsqueeze(0)
        return input, hx, is_batched

    def _zeros(self, input):
        return factories.zeros(input.size(0), self.hidden_size, dtype=input.dtype)


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ``relu``)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, is_batched = self._prepare(input, hx, "RNNCell")
        if hx is None:
            hx = self._zeros(input)
        if self.nonlinearity == "tanh":
            step = _tanh_step
        elif self.nonlinearity == "relu":
            step = _relu_step
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        _check_cell(input, hx, self, 0)
        ret = step(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh.t(), self.bias_hh)
        return ret if is_batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(h', c')`` from ``input`` and ``(h, c)`` (zeros when omitted)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = hx
        _check_cell(input, h, self, 0)
        _check_cell(input, c, self, 1)
        h, c = _lstm_step(F.linear(input, self.weight_ih, self.bias_ih), h, c, self.weight_hh.t(), self.bias_hh,
                          self.hidden_size)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: ``h'`` from ``input`` and ``h`` (zeros when omitted)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, is_batched = self._prepare(input, hx, "GRUCell")
        if hx is None:
            hx = self._zeros(input)
        _check_cell(input, hx, self, 0)
        hidden = self.hidden_size
        gi_rz, gi_n = F.linear(input, self.weight_ih, self.bias_ih).split([2 * hidden, hidden], 1)
        ret = _gru_step(gi_rz, gi_n, hx, self.weight_hh.t(), self.bias_hh, hidden)
        return ret if is_batched else ret.squeeze(0)
