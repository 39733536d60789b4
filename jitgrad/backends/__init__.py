"""``torch.backends``: the flags scripts set and the availability queries they make, answered as
a CPU-only PyTorch build answers them (the flags are stored; jitgrad's kernels do not read them:
they are deterministic and use no cuDNN/TF32)."""
import sys as _sys
import types as _types


def _flags(name, **attributes):
    module = _types.ModuleType(f"{__name__}.{name}")
    module.__dict__.update(attributes)
    _sys.modules[module.__name__] = module  # (``import jitgrad.backends.cudnn`` works too)
    return module


#: cuDNN is never available; ``benchmark`` / ``deterministic`` / ``enabled`` / ``allow_tf32`` are settable
cudnn = _flags("cudnn", enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
               benchmark_limit=None, is_available=lambda: False, version=lambda: None)
mps = _flags("mps", is_available=lambda: False, is_built=lambda: False)
cuda = _flags("cuda", is_built=lambda: False, matmul=_types.SimpleNamespace(allow_tf32=False,
                                                                            allow_fp16_reduced_precision_reduction=True,
                                                                            allow_bf16_reduced_precision_reduction=True))
mkldnn = _flags("mkldnn", enabled=True, is_available=lambda: False)
openmp = _flags("openmp", is_available=lambda: True)
