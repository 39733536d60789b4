"""jitgrad.utils.data and jitgrad.Generator: PyTorch's datasets, samplers, collation and DataLoader.

The orders drawn by shuffling loaders, random samplers and random_split are compared with
PyTorch's element for element (several seeds and sizes, with a Generator and with the global
generator); tests on the ``T`` fixture run the same hard-coded expectations on jitgrad and torch.
Worker processes are checked to give the single-process batches, and the random streams inside
workers (jitgrad, NumPy, ``random``) to be those of PyTorch's workers."""
import collections
import pickle
import random
import warnings

import numpy as np
import pytest

import jitgrad
from jitgrad.utils.data import DataLoader, Dataset, RandomSampler, SubsetRandomSampler, get_worker_info, random_split

Pair = collections.namedtuple("Pair", "a b")


def _batches(loader):
    return [[t.tolist() for t in b] for b in loader]


def _loader(T, n, batch_size, seed=None, **kw):
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    ds = T.utils.data.TensorDataset(T.tensor(x), T.tensor(np.arange(n)))
    gen = None if seed is None else T.Generator().manual_seed(seed)
    return T.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, generator=gen, **kw)


# ----------------------------------------------------------------------------- order vs torch
@pytest.mark.parametrize("seed", [0, 7, 2 ** 40 + 3])
@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (17, 4, True), (5, 1, False), (64, 8, False)])
def test_shuffle_order_matches_torch(torch, seed, n, batch_size, drop_last):
    ours = _loader(jitgrad, n, batch_size, seed, drop_last=drop_last)
    theirs = _loader(torch, n, batch_size, seed, drop_last=drop_last)
    assert len(ours) == len(theirs)
    for _ in range(2):  # the generator moves on: the second epoch is another permutation, as in torch
        assert _batches(ours) == _batches(theirs)
    # without a generator: the sampler seeds itself from the global generator, after the loader's base seed
    jitgrad.manual_seed(seed)
    torch.manual_seed(seed)
    for _ in range(2):
        assert _batches(_loader(jitgrad, n, batch_size)) == _batches(_loader(torch, n, batch_size))
    assert jitgrad.rand(4).tolist() == torch.rand(4).tolist()  # and the global stream is left where torch's is


def test_random_split_matches_torch(torch):
    for lengths in ([3, 8], [0.3, 0.7], [0.25, 0.25, 0.5], [1 / 3] * 3):
        torch.manual_seed(3)
        jitgrad.manual_seed(3)
        theirs = [s.indices for s in torch.utils.data.random_split(range(11), lengths)]
        assert [s.indices for s in random_split(range(11), lengths)] == theirs
    theirs = torch.utils.data.random_split(range(10), [4, 6], generator=torch.Generator().manual_seed(9))
    ours = random_split(range(10), [4, 6], generator=jitgrad.Generator().manual_seed(9))
    assert [s.indices for s in ours] == [s.indices for s in theirs]
    assert [list(s) for s in ours] == [list(s) for s in theirs]


def test_random_samplers_match_torch(torch):
    D = torch.utils.data
    for kw in (dict(replacement=True, num_samples=70), dict(num_samples=17), dict(replacement=True)):
        ours = RandomSampler(range(7), generator=jitgrad.Generator().manual_seed(2), **kw)
        theirs = D.RandomSampler(range(7), generator=torch.Generator().manual_seed(2), **kw)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    ours = SubsetRandomSampler([5, 9, 2, 8], generator=jitgrad.Generator().manual_seed(4))
    assert list(ours) == list(D.SubsetRandomSampler([5, 9, 2, 8], generator=torch.Generator().manual_seed(4)))


def test_worker_random_streams_match_torch(torch):
    ours = _batches(DataLoader(_RandomDataset(jitgrad), batch_size=2, num_workers=2,
                               generator=jitgrad.Generator().manual_seed(4)))
    theirs = _batches(torch.utils.data.DataLoader(_RandomDataset(torch), batch_size=2, num_workers=2,
                                                  generator=torch.Generator().manual_seed(4)))
    assert ours == theirs


class _RandomDataset:
    def __init__(self, module):
        self.module = module

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return [self.module.rand(1).item(), float(np.random.rand()), random.random()]


# ----------------------------------------------------------------------------- Generator
def test_generator_state_and_streams_match_torch(torch):
    g, tg = jitgrad.Generator(), torch.Generator()
    assert g.initial_seed() == tg.initial_seed() == 67280421310721
    assert np.array_equal(g.get_state().numpy(), tg.get_state().numpy())
    assert g.manual_seed(5) is g and tg.manual_seed(5) is tg
    assert jitgrad.rand(3, generator=g).tolist() == torch.rand(3, generator=tg).tolist()
    assert jitgrad.randn(20, generator=g).tolist() == torch.randn(20, generator=tg).tolist()
    assert jitgrad.randint(0, 10, (5,), generator=g).tolist() == torch.randint(0, 10, (5,), generator=tg).tolist()
    assert jitgrad.randperm(9, generator=g).tolist() == torch.randperm(9, generator=tg).tolist()
    assert np.array_equal(g.get_state().numpy(), tg.get_state().numpy())
    g.set_state(jitgrad.from_numpy(tg.get_state().numpy()))
    assert jitgrad.rand(4, generator=g).tolist() == torch.rand(4, generator=tg).tolist()


def test_generator_api():
    g = jitgrad.Generator().manual_seed(11)
    state = g.get_state()
    assert isinstance(state, jitgrad.Tensor) and state.dtype == jitgrad.uint8 and state.shape == (5056,)
    assert str(g.device) == "cpu" and repr(g).startswith("<jitgrad.Generator object at 0x")
    a = jitgrad.rand(5, generator=g).tolist()
    assert g.set_state(state) is g and jitgrad.rand(5, generator=g).tolist() == a
    c = g.clone_state()
    assert c is not g and jitgrad.randn(20, generator=c).tolist() == jitgrad.randn(20, generator=g).tolist()
    p = pickle.loads(pickle.dumps(g))
    assert jitgrad.randperm(30, generator=p).tolist() == jitgrad.randperm(30, generator=g).tolist()
    assert jitgrad.manual_seed(1) is jitgrad.default_generator and isinstance(jitgrad.default_generator, jitgrad.Generator)
    assert isinstance(jitgrad.get_rng_state(), jitgrad.Tensor)
    assert 0 <= g.seed() < 2 ** 64 and g.initial_seed() == g.get_state().numpy()[:8].view(np.uint64)[0]


@pytest.mark.parametrize("bad,exc,msg", [
    ("numpy", TypeError, "expected a torch.ByteTensor, but got numpy.ndarray"),
    ([0] * 5056, TypeError, "expected a torch.ByteTensor, but got list"),
    ("zeros10u8", RuntimeError, "Expected a CPUGeneratorImplState of size 5056 but found the input RNG state size to be 10"),
    ("zeros_f", TypeError, "RNG state must be a torch.ByteTensor"),
])
def test_generator_set_state_errors(T, bad, exc, msg):
    if bad == "numpy":
        bad = np.zeros(5056, np.uint8)
    elif bad == "zeros10u8":
        bad = T.zeros(10, dtype=T.uint8)
    elif bad == "zeros_f":
        bad = T.zeros(5056)
    with pytest.raises(exc, match=msg):
        T.Generator().set_state(bad)


def test_generator_argument_type():
    with pytest.raises(TypeError, match="generator"):
        jitgrad.rand(2, generator=5)


# ----------------------------------------------------------------------------- collate
def test_default_collate_types(T):
    collate = T.utils.data.default_collate
    out = collate([1, 2, 3])
    assert out.dtype == T.int64 and out.tolist() == [1, 2, 3]
    out = collate([1.5, 2.0])
    assert out.dtype == T.float64 and out.tolist() == [1.5, 2.0]
    assert collate([True, False]).dtype == T.bool
    assert collate(["a", "b"]) == ["a", "b"] and collate([b"a", b"b"]) == [b"a", b"b"]
    assert collate([np.float32(1), np.float32(2)]).dtype == T.float32
    assert collate([np.int32(3), np.int32(4)]).dtype == T.int32
    out = collate([np.ones((2, 2), np.float32)] * 3)
    assert out.dtype == T.float32 and tuple(out.shape) == (3, 2, 2)
    out = collate([(T.ones(2), 1), (T.zeros(2), 2)])
    assert isinstance(out, list) and out[0].tolist() == [[1, 1], [0, 0]] and out[1].tolist() == [1, 2]
    out = collate([{"x": T.ones(2, dtype=T.float64), "y": [1, 2]}] * 3)
    assert out["x"].dtype == T.float64 and tuple(out["x"].shape) == (3, 2)
    assert [v.tolist() for v in out["y"]] == [[1, 1, 1], [2, 2, 2]]
    out = collate([Pair(1.0, "s"), Pair(2.0, "t")])
    assert isinstance(out, Pair) and out.a.tolist() == [1.0, 2.0] and list(out.b) == ["s", "t"]
    assert tuple(collate([T.tensor(3), T.tensor(4)]).shape) == (2,)


def test_default_collate_errors(T):
    collate = T.utils.data.default_collate
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <class 'object'>"):
        collate([object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found <U1"):
        collate([np.array(["a"])])


def test_collate_matches_torch_on_nested_batch(torch):
    def batch(T):
        return [{"img": T.full((2, 3), float(i)), "label": i, "meta": (np.float64(i / 2), f"s{i}")} for i in range(4)]

    ours, theirs = jitgrad.utils.data.default_collate(batch(jitgrad)), torch.utils.data.default_collate(batch(torch))
    assert ours["img"].tolist() == theirs["img"].tolist() and ours["label"].tolist() == theirs["label"].tolist()
    assert str(ours["meta"][0].dtype) == str(theirs["meta"][0].dtype) == "torch.float64"
    assert ours["meta"][1] == theirs["meta"][1]


# ----------------------------------------------------------------------------- DataLoader arguments
@pytest.mark.parametrize("kw,msg", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(shuffle=True, sampler=[1]), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive with batch_size"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(batch_size=0), "batch_size should be a positive integer value, but got batch_size=0"),
    (dict(multiprocessing_context="fork"), "multiprocessing_context can only be used with multi-process loading"),
])
def test_dataloader_argument_errors(T, kw, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        T.utils.data.DataLoader(list(range(5)), **kw)


def test_dataloader_basics(T):
    D = T.utils.data
    loader = D.DataLoader([1.5, 2.5, 3.5], batch_size=2)
    assert len(loader) == 2 and [b.tolist() for b in loader] == [[1.5, 2.5], [3.5]]
    assert list(D.DataLoader([1.5, 2.5], batch_size=None)) == [1.5, 2.5]  # no batching: default_convert
    assert len(D.DataLoader(range(10), batch_size=3, drop_last=True)) == 3
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 3
    sampler = D.BatchSampler(D.SequentialSampler(range(7)), batch_size=3, drop_last=False)
    assert list(sampler) == [[0, 1, 2], [3, 4, 5], [6]] and len(sampler) == 3
    loader = D.DataLoader(list(range(10)), batch_sampler=[[9, 0], [3]], collate_fn=lambda b: sum(b))
    assert list(loader) == [9, 3] and len(loader) == 2
    assert [b.tolist() for b in D.DataLoader(range(5), sampler=[4, 2, 0], batch_size=2)] == [[4, 2], [0]]
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        list(D.DataLoader([1], pin_memory=True))


# ----------------------------------------------------------------------------- datasets
def test_datasets(T):
    D = T.utils.data
    ds = D.TensorDataset(T.arange(6).reshape(3, 2), T.tensor([7, 8, 9]))
    assert len(ds) == 3 and [t.tolist() for t in ds[1]] == [[2, 3], 8]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        D.TensorDataset(T.ones(2), T.ones(3))
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        D.ConcatDataset([range(2), _stream(T)()])
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        D.DataLoader(_stream(T)(), shuffle=True)
    assert len(D.DataLoader(_stream(T)(), batch_size=3)) == 4
    chained = _stream(T)() + _stream(T)()
    assert isinstance(chained, D.ChainDataset) and list(chained) == list(range(10)) * 2 and len(chained) == 20
    cat = D.ConcatDataset([range(3), range(10, 12)])
    assert len(cat) == 5 and [cat[i] for i in range(-5, 5)] == [0, 1, 2, 10, 11] * 2
    assert list(D.Subset(range(10, 20), [3, 1])) == [13, 11]
    stack = D.StackDataset(a=range(3), b=range(10, 13))
    assert stack[1] == {"a": 1, "b": 11} and len(stack) == 3
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        D.random_split(range(5), [2, 2])
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement __getitem__."):
        D.Dataset()[0]

    class Shifted(D.Subset):
        def __getitem__(self, i):
            return 0

    with pytest.raises(NotImplementedError, match="Shifted overrides __getitem__ but not __getitems__"):
        Shifted(range(3), [0])


# ----------------------------------------------------------------------------- workers
def _stream(T):
    """An IterableDataset class of ``T`` (jitgrad or torch): 0..9, split between workers."""
    D = T.utils.data

    class Stream(D.IterableDataset):
        def __iter__(self):
            info = D.get_worker_info()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(start, 10, step))

        def __len__(self):
            return 10

    return Stream


_Stream = _stream(jitgrad)


class _Tagged(Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        info = get_worker_info()
        return {"x": jitgrad.full((2,), float(i)), "worker": -1 if info is None else info.id, "tag": _INIT_TAG}


class _Failing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        raise IndexError(f"no sample {i}")


_INIT_TAG = "main"


def _init_worker(worker_id):
    global _INIT_TAG
    _INIT_TAG = f"init{worker_id}"


def test_workers_give_the_single_process_batches():
    def run(**kw):
        loader = DataLoader(_Tagged(), batch_size=4, shuffle=True, generator=jitgrad.Generator().manual_seed(1), **kw)
        return list(loader)

    single = run()
    multi = run(num_workers=2, worker_init_fn=_init_worker)
    assert [b["x"].tolist() for b in multi] == [b["x"].tolist() for b in single]
    assert [b["worker"].tolist() for b in multi] == [[i % 2] * len(b["worker"]) for i, b in enumerate(multi)]
    assert [b["tag"] for b in multi] == [[f"init{i % 2}"] * len(b["tag"]) for i, b in enumerate(multi)]
    assert all(b["tag"] == ["main"] * len(b["tag"]) for b in single)


def test_persistent_workers_iterable_dataset_and_errors():
    loader = DataLoader(_Tagged(), batch_size=5, num_workers=2, persistent_workers=True)
    first = [b["x"].tolist() for b in loader]
    assert len(first) == len(loader) == 5 and first == [b["x"].tolist() for b in loader]
    assert [b.tolist() for b in DataLoader(_Stream(), batch_size=3, num_workers=2)] == \
        [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    assert [b.tolist() for b in DataLoader(_Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    with pytest.raises(IndexError, match="Caught IndexError in DataLoader worker process 0"):
        list(DataLoader(_Failing(), num_workers=2))


def test_weighted_sampler_arguments():
    D = jitgrad.utils.data
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        D.WeightedRandomSampler([1.0, 2.0], 0)
    with pytest.raises(ValueError, match=r"weights should be a 1d sequence but given weights have shape \(1, 2\)"):
        D.WeightedRandomSampler([[1.0, 2.0]], 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(D.WeightedRandomSampler([1.0, 2.0], 3)) == 3
