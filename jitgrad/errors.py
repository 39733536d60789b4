"""PyTorch's error messages, in one place, so the wording stays exactly PyTorch's."""


def format_size(shape) -> str:
    return "torch.Size([" + ", ".join(str(s) for s in shape) + "])"


def broadcast_error(shape_a, shape_b) -> RuntimeError:
    """The error PyTorch raises when two shapes do not broadcast."""
    na, nb = len(shape_a), len(shape_b)
    n = max(na, nb)
    for i in range(1, n + 1):
        a = shape_a[na - i] if i <= na else 1
        b = shape_b[nb - i] if i <= nb else 1
        if a != b and a != 1 and b != 1:
            return RuntimeError(
                f"The size of tensor a ({a}) must match the size of tensor b ({b}) "
                f"at non-singleton dimension {n - i}"
            )
    return RuntimeError(f"shapes {tuple(shape_a)} and {tuple(shape_b)} cannot be broadcast")


def dim_out_of_range(dim: int, ndim: int) -> IndexError:
    lo, hi = (-ndim, ndim - 1) if ndim > 0 else (-1, 0)
    return IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")


def saved_tensor_modified(describe, found: int, expected: int) -> RuntimeError:
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {describe} is at version {found}; expected version {expected} instead. Hint: "
        "enable anomaly detection to find the operation that failed to compute its gradient, "
        "with torch.autograd.set_detect_anomaly(True, check_nan=False)."
    )


BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)
NON_SCALAR = "grad can be implicitly created only for scalar outputs"
LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
LEAF_MARKED_DIRTY = "a leaf Variable that requires grad has been used in an in-place operation."
VIEW_OF_LEAF_INPLACE = "a view of a leaf Variable that requires grad is being used in an in-place operation."
FLOAT_ONLY_GRAD = "Only Tensors of floating point and complex dtype can require gradients"
FLOAT_ONLY_GRAD_SETTER = "only Tensors of floating point dtype can require gradients"  # requires_grad_()
FLOAT_ONLY_GRAD_ATTRIBUTE = "only Tensors of floating point and complex dtype can require gradients"  # .requires_grad =
NON_LEAF_REQUIRES_GRAD_SHORT = "you can only change requires_grad flags of leaf variables."
NON_LEAF_GRAD_ACCESS = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be "
    "populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf "
    "Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
    "you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more information."
)
NON_LEAF_REQUIRES_GRAD = (
    "you can only change requires_grad flags of leaf variables. If you want to use a computed "
    "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
)
ONCE_DIFFERENTIABLE = "trying to differentiate twice a function that was marked with @once_differentiable"
NUMPY_REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."


def no_grad_fn(index: int) -> RuntimeError:
    return RuntimeError(f"element {index} of tensors does not require grad and does not have a grad_fn")


def grad_shape_mismatch(index: int, grad_shape, out_shape) -> RuntimeError:
    return RuntimeError(
        f"Mismatch in shape: grad_output[{index}] has a shape of {format_size(grad_shape)} and "
        f"output[{index}] has a shape of {format_size(out_shape)}."
    )
