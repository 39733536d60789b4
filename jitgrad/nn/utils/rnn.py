"""Variable-length sequences for the recurrent layers (``torch.nn.utils.rnn``): ``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pad_sequence``, ``pack_sequence`` and their
inverses.  Composed from differentiable ops (gradients flow through packing and padding); the
index bookkeeping (lengths, batch sizes, permutations) is NumPy on int64 tensors, as on PyTorch's CPU."""
from typing import NamedTuple

import numpy as np

from ... import factories
from ...ops.joining import cat, stack
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """The time steps of a batch of sequences (sorted by decreasing length) concatenated:
    ``data`` (sum of batch_sizes, *), ``batch_sizes[t]`` sequences still running at step t."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs):
        return self

    def double(self):
        return self.to(dtype=_dtype("float64"))

    def float(self):
        return self.to(dtype=_dtype("float32"))

    def half(self):
        return self.to(dtype=_dtype("float16"))

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def _dtype(name):
    from ... import _dtype as dtypes

    return getattr(dtypes, name)


def _long(values) -> Tensor:
    return factories.tensor(np.asarray(values, dtype=np.int64))


def invert_permutation(permutation):
    """The inverse of a permutation index tensor (None for None)."""
    if permutation is None:
        return None
    perm = permutation.numpy()
    out = np.empty_like(perm)
    out[perm] = np.arange(perm.size, dtype=perm.dtype)
    return _long(out)


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *)) of sequences of the given ``lengths``."""
    lengths = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths, dtype=np.int64)
    sorted_indices = None
    batch_dim = 0 if batch_first else 1
    if not enforce_sorted:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _long(order)
        input = input.index_select(batch_dim, sorted_indices)
    if lengths.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D cpu Long "
                           "tensor")
    if lengths.size and np.any(np.diff(lengths) > 0):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can "
                           "pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if batch_first:
        input = input.transpose(0, 1)
    if lengths.size != input.shape[1]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lengths.size} "
                           f"(batch_size={input.shape[1]})")
    if lengths.size == 0 or lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if lengths[0] > input.shape[0]:
        raise RuntimeError(f"Expected sequence length to be smaller or equal to {input.shape[0]}, but got "
                           f"{int(lengths[0])}")  # (PyTorch reads out of bounds here)
    batch_sizes = (lengths[None, :] > np.arange(int(lengths[0]))[:, None]).sum(1)
    data = cat([input[t, :int(b)] for t, b in enumerate(batch_sizes)], 0)
    return PackedSequence(data, _long(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length=None):
    """The inverse of ``pack_padded_sequence``: (padded (T, B, *) or (B, T, *), lengths)."""
    batch_sizes = sequence.batch_sizes.numpy()
    max_seq_length = batch_sizes.size
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {max_seq_length}")
        max_seq_length = total_length
    data = sequence.data
    batch = int(batch_sizes[0])
    tail = tuple(data.shape[1:])
    steps = data.split([int(b) for b in batch_sizes], 0)
    rows = []
    for piece, b in zip(steps, batch_sizes):
        b = int(b)
        rows.append(piece if b == batch else
                    cat([piece, factories.full((batch - b, *tail), padding_value, dtype=data.dtype)], 0))
    if max_seq_length > batch_sizes.size:
        rows += [factories.full((batch, *tail), padding_value, dtype=data.dtype)] * (max_seq_length - batch_sizes.size)
    padded = stack(rows, 1 if batch_first else 0)
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    if sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices
        return padded.index_select(0 if batch_first else 1, unsorted), _long(lengths[unsorted.numpy()])
    return padded, _long(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"):
    """Stack sequences of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padded."""
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    elif not hasattr(sequences, "__iter__"):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    sequences = tuple(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = max_len - s.shape[0]
        if missing:
            pad = factories.full((missing, *s.shape[1:]), padding_value, dtype=s.dtype)
            s = cat([s, pad] if padding_side == "right" else [pad, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False) -> list:
    """The list of sequences in a padded batch (the inverse of ``pad_sequence``)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(length)] for seq, length in zip(padded_sequences.unbind(0), lengths)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shapes (L_i, *)."""
    lengths = [v.size(0) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences in a ``PackedSequence``."""
    padded_sequences, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded_sequences, lengths, batch_first=True)
