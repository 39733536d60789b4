"""``Optimizer``: parameter groups, per-parameter state and PyTorch's state-dict layout.

Subclasses implement ``step`` by calling one jitted kernel per parameter
(``jitgrad/kernels/optim.py``) on flat views of the parameter, its gradient and its state;
``_flat`` prepares those views and ``_finish`` writes back the rare copies and bumps the
version counters, as PyTorch's in-place updates do.
"""
import functools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from .. import _dtype
from ..autograd import grad_mode
# (RemovableHandle: PyTorch's optimizers use torch.utils.hooks' too; the rest is shared with Module)
from ..nn.modules.module import RemovableHandle, _hook_args_kwargs, _reset_grad, _typename, add_hook
from ..tensor import _TYPE_META_NAMES, Tensor, _scalar_type_name, inplace_broadcast_error, unwritable_error

__all__ = ["Optimizer", "required"]

_state = grad_mode._state
_F16 = np.dtype(np.float16)
_EMPTY = {}  # dtype -> a zero-length placeholder array for state a kernel does not use


class _RequiredParameter:
    """Singleton class representing a required parameter for an Optimizer."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_optimizer_pre_hooks: "OrderedDict[int, object]" = OrderedDict()
_global_optimizer_post_hooks: "OrderedDict[int, object]" = OrderedDict()


def register_optimizer_step_pre_hook(hook) -> RemovableHandle:
    """Register a pre hook common to all optimizers: ``hook(optimizer, args, kwargs)``."""
    return add_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook) -> RemovableHandle:
    """Register a post hook common to all optimizers: ``hook(optimizer, args, kwargs)``."""
    return add_hook(_global_optimizer_post_hooks, hook)


def _wrap_step(step):
    """Run ``step`` without recording a graph, with the optimizer's step hooks around it."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_in_step"):
            return step(self, *args, **kwargs)  # a subclass calling super().step()
        for hook in chain(_global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            res = hook(self, args, kwargs)
            if res is not None:
                args, kwargs = _hook_args_kwargs(res, str(step))
        self._in_step = True
        prev = _state.enabled
        _state.enabled = False
        try:
            out = step(self, *args, **kwargs)
        finally:
            _state.enabled = prev
            self._in_step = False
        self._optimizer_step_code()
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._jitgrad_step = True
    return wrapper


class Optimizer:
    r"""Base class for all optimizers.

    Args:
        params (iterable): an iterable of :class:`Tensor` s or :class:`dict` s.
        defaults (dict): default values of optimization options (used when a parameter group
            doesn't specify them).
    """

    # (key, value) pairs that ``__setstate__`` gives a param group lacking them (a state_dict saved by an
    # older release): PyTorch's group.setdefault calls in each optimizer's __setstate__, as data
    _group_defaults = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_jitgrad_step", False):
            cls.step = _wrap_step(step)

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got "
                + _typename(params)
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def _optimizer_step_code(self) -> None:
        """Entry point for profilers (a no-op, as in PyTorch)."""

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                self.__dict__[name] = OrderedDict()
        self.defaults.setdefault("differentiable", False)
        if self._group_defaults:
            for group in self.param_groups:
                for key, value in self._group_defaults:
                    group.setdefault(key, value)

    def __repr__(self) -> str:
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    # ------------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None or (args, kwargs)``, called before ``step``."""
        return add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None``, called after ``step``."""
        return add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """The optimizer state as a dict: ``state`` (per parameter index) and ``param_groups``."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        param_mappings: dict = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update(
                {id(p): i for i, p in enumerate(group["params"], start_index) if id(p) not in param_mappings}
            )
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            hook_result = post_hook(self, state_dict)
            if hook_result is not None:
                state_dict = hook_result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups, key=None):
        if key == "step":
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype)
        return value

    def load_state_dict(self, state_dict: dict) -> None:
        """Load the optimizer state (an object returned by :meth:`state_dict`)."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            hook_result = pre_hook(self, state_dict)
            if hook_result is not None:
                state_dict = hook_result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def _cast(param, value, param_id=None, param_groups=None, key=None):
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(param, value, param_id, param_groups, key)
            if isinstance(value, dict):
                return {k: _cast(param, v, param_id=param_id, param_groups=param_groups, key=k)
                        for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(_cast(param, v, param_id=param_id, param_groups=param_groups) for v in value)
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v, param_id=k, param_groups=state_dict["param_groups"])
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # ------------------------------------------------------------------ groups and grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors (to None by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is not None:
                    _reset_grad(p, grad, set_to_none)

    def step(self, closure=None):
        """Perform a single optimization step (implemented by subclasses)."""
        raise NotImplementedError

    def add_param_group(self, param_group: dict) -> None:
        """Add a param group to the optimizer's ``param_groups``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)
        extracted_param_tensors = []
        extracted_param_names = []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                extracted_param_names.append(param[0])
                extracted_param_tensors.append(param[1])
            else:
                extracted_param_tensors.append(param)
        param_group["params"] = extracted_param_tensors
        if len(extracted_param_names) != 0:
            if len(extracted_param_names) == len(extracted_param_tensors):
                param_group["param_names"] = extracted_param_names
            else:
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(param))
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        param_set = set()
        for group in self.param_groups:
            param_set.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                current_group_txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {current_group_txt} to the optimizer"
                )
        if not param_set.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ kernel plumbing
    @staticmethod
    def _check_differentiable(group) -> None:
        if group.get("differentiable"):
            raise NotImplementedError("jitgrad optimizers do not support differentiable=True")


def _closure_loss(closure):
    """What ``step(closure)`` returns: ``closure()``, re-evaluated with grad enabled, or None."""
    if closure is None:
        return None
    from ..autograd import enable_grad

    with enable_grad():
        return closure()


def _check_lr(lr) -> None:
    """PyTorch's checks of ``lr`` (SGD's own test, ``lr < 0.0``, lets NaN through: it keeps it inline)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_fused(fused, differentiable, foreach) -> None:
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _step_counter() -> Tensor:
    """A parameter's step count: PyTorch keeps it as a float32 CPU scalar tensor."""
    from ..factories import tensor

    return tensor(0.0, dtype=_dtype.float32)


def _advance_step(step_t: Tensor) -> float:
    """Add one to a step counter in place (a version bump, as PyTorch's ``+= 1``); the new count."""
    step_t._data += 1
    step_t._vc[0] += 1
    return float(step_t._data.item())


def _scalar(value) -> float:
    """A Python number from a float or a one-element tensor (``lr`` may be a Tensor)."""
    return float(value.item()) if isinstance(value, Tensor) else value


class _Flat:
    """Flat 1-D C-contiguous views of a parameter, its gradient and its state for a kernel.

    The kernels loop over the parameter's size and trust every other array to match, so each
    array's shape is checked here (one tuple comparison in the common case), with the error
    PyTorch's tensor ops raise.  A gradient whose shape broadcasts to the parameter's (after
    ``p.grad.data = ...``) is broadcast, as PyTorch does.

    Parameters and state are contiguous in practice, so these are views; a non-contiguous or
    float16 array, or one of another dtype, is processed through a contiguous copy in the
    parameter's dtype that ``finish`` writes back (float16 computes in float32, as elsewhere in
    jitgrad).
    """

    __slots__ = ("copies", "dtype", "shape")

    def __init__(self, param, integral_error=None):
        data = param._data
        if data.dtype.kind != "f":  # the kernels would cast lr & co. to integers: PyTorch's error instead
            raise (integral_error or _float_cast_error)(data.dtype)
        self.copies = []
        self.shape = data.shape
        self.dtype = np.dtype(np.float32) if data.dtype == _F16 else data.dtype

    def __call__(self, t, writable=True):
        if t is None:
            empty = _EMPTY.get(self.dtype)
            if empty is None:
                empty = _EMPTY[self.dtype] = np.empty(0, self.dtype)
            return empty
        a = t._data
        if a.shape != self.shape:  # a state of another size (p.data replaced, or a loaded state)
            raise _mismatch_error(a.shape, self.shape)
        if a.flags.c_contiguous and a.dtype == self.dtype and (a.flags.writeable or not writable):
            return a.reshape(-1)
        if writable and not a.flags.writeable:  # (p.data = x.expand(...)): PyTorch's in-place error
            raise unwritable_error(a)
        flat = np.ascontiguousarray(a, dtype=self.dtype).reshape(-1)
        if writable:
            self.copies.append((a, flat))
        return flat

    def grad(self, t, weight_decay_first=False):
        """The gradient ``t`` (read only), broadcast to the parameter's shape if it is smaller.
        ``weight_decay_first``: PyTorch's first op is ``grad + weight_decay * param`` (its error
        then names the gradient as tensor a)."""
        a = t._data
        if a.shape != self.shape:
            err = inplace_broadcast_error(self.shape, a.shape)
            if err is not None:
                if weight_decay_first:
                    raise _mismatch_error(a.shape, self.shape)
                raise err
            return np.ascontiguousarray(np.broadcast_to(a, self.shape), dtype=self.dtype).reshape(-1)
        return self(t, writable=False)

    def scalar(self, value):
        return self.dtype.type(value)

    def finish(self, *tensors) -> None:
        for a, flat in self.copies:
            np.copyto(a, flat.reshape(a.shape), casting="unsafe")
        for t in tensors:
            if t is not None:
                t._vc[0] += 1


def _float_cast_error(param_dtype) -> RuntimeError:
    """PyTorch's error for a float update written in place into an integer parameter."""
    return RuntimeError(f"result type Float can't be cast to the desired output type {_scalar_type_name(param_dtype)}")


def _check_lerp_dtype(state, grad) -> None:
    """PyTorch's ``state.lerp_(grad, w)`` (Adam's first moment, RMSprop's centered average) needs
    one dtype; jitgrad's kernels would cast, PyTorch raises."""
    if state._data.dtype != grad._data.dtype:
        raise RuntimeError(f"expected dtype {_TYPE_META_NAMES[state._data.dtype]} for `end` but got dtype "
                           f"{_TYPE_META_NAMES[grad._data.dtype]}")


def _mismatch_error(state_shape, param_shape) -> RuntimeError:
    """PyTorch's error for a state of ``state_shape`` updated with a parameter of ``param_shape``:
    the state's in-place update fails first, or else the parameter's."""
    return (inplace_broadcast_error(state_shape, param_shape) or inplace_broadcast_error(param_shape, state_shape)
            or RuntimeError(f"jitgrad: optimizer state of shape {list(state_shape)} for a parameter of shape "
                            f"{list(param_shape)}"))
