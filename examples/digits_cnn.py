"""Train a small convolutional network on scikit-learn's 8x8 handwritten digits with jitgrad.

The 1,797 digit images ship with scikit-learn (no download).  The network is two 3x3
convolutions, a 2x2 max-pool and a linear head, written as an ``nn.Module`` subclass whose
``forward`` mixes modules and ``torch.nn.functional``.  The rest is ordinary PyTorch training
code -- ``F.cross_entropy``, Adam with a cosine learning-rate schedule, shuffled mini-batches,
``model.train()``/``model.eval()``, evaluation under ``torch.no_grad()``,
``torch.save``/``torch.load`` of the ``state_dict`` -- run on jitgrad; ``--backend torch``
runs the very same lines on PyTorch.

It is an end-to-end check too: it exits non-zero if the reloaded checkpoint does not
reproduce the model, or if a full run (at least ``--check-from`` epochs) ends below
``--min-accuracy`` (97%) test accuracy.

    python examples/digits_cnn.py [--epochs N] [--plot PATH | --no-plot] [--backend {jitgrad,torch}]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm


def _backend_argument(parser):
    parser.add_argument("--backend", choices=("jitgrad", "torch"), default="jitgrad",
                        help="run on jitgrad (default) or on PyTorch itself: the code is the same")
    return parser


# the backend is chosen before anything else so that the rest reads as plain PyTorch code
if _backend_argument(argparse.ArgumentParser(add_help=False)).parse_known_args()[0].backend == "torch":
    import torch
else:
    import jitgrad as torch

nn = torch.nn
F = torch.nn.functional

EPOCHS = 12


def load_data():
    """The standard split of sklearn's digits as (N, 1, 8, 8) images, normalised with the
    training set's mean and standard deviation (one of each: pixels share a scale)."""
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, random_state=0)
    mean, std = x_train.mean(), x_train.std()

    def as_tensors(x, y):
        images = ((x - mean) / std).astype(np.float32)[:, None]    # add the channel axis
        return torch.from_numpy(images), torch.from_numpy(y.astype(np.int64))

    return as_tensors(x_train, y_train), as_tensors(x_test, y_test)


def batches(x, y, batch_size, shuffle):
    """A minimal DataLoader: (inputs, targets) mini-batches, in a fresh random order if shuffled."""
    n = x.shape[0]
    order = torch.randperm(n) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        yield x[index], y[index]


class DigitsCNN(nn.Module):
    """conv 3x3 (16) -> ReLU -> conv 3x3 (32) -> ReLU -> max-pool 2x2 -> dropout -> linear (10)."""

    def __init__(self, channels=(16, 32), dropout=0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels[0], kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels[1] * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))                      # (N, 16, 8, 8)
        x = self.pool(F.relu(self.conv2(x)))           # (N, 32, 4, 4)
        return self.head(self.dropout(self.flatten(x)))


def build_model():
    return DigitsCNN()


def evaluate(model, x, y, batch_size=512):
    """(mean loss, accuracy) over a data set, in eval mode and without building a graph."""
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for xb, yb in batches(x, y, batch_size, shuffle=False):
            logits = model(xb)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(dim=1) == yb).sum().item()
    return total_loss / y.shape[0], correct / y.shape[0]


def train(model, train_set, test_set, args):
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    x_train, y_train = train_set
    n_batches = -(-x_train.shape[0] // args.batch_size)
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": [], "seconds": []}
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        seen, running_loss, correct = 0, 0.0, 0
        progress = tqdm(batches(x_train, y_train, args.batch_size, shuffle=True), total=n_batches,
                        desc=f"epoch {epoch}/{args.epochs}", leave=False, disable=args.no_progress)
        for xb, yb in progress:
            optimizer.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            seen += yb.shape[0]
            running_loss += loss.item() * yb.shape[0]
            correct += (logits.argmax(dim=1) == yb).sum().item()
            progress.set_postfix(loss=f"{running_loss / seen:.4f}")
        scheduler.step()
        test_loss, test_acc = evaluate(model, *test_set)
        seconds = time.perf_counter() - t0
        for key, value in zip(history, (running_loss / seen, correct / seen, test_loss, test_acc, seconds)):
            history[key].append(value)
        tqdm.write(f"epoch {epoch:3d}/{args.epochs}  train loss {running_loss / seen:.4f}  "
                   f"train acc {correct / seen:6.2%}  test loss {test_loss:.4f}  "
                   f"test acc {test_acc:6.2%}  ({seconds:.2f} s)")
    return history


def check_checkpoint(model, path, x_test):
    """Save the state_dict, load it into a fresh model and compare the two models' outputs."""
    torch.save(model.state_dict(), path)
    reloaded = build_model()
    reloaded.load_state_dict(torch.load(path))
    model.eval()
    reloaded.eval()
    with torch.no_grad():
        same = torch.equal(model(x_test), reloaded(x_test))
    print(f"checkpoint: state_dict saved to {path} ({os.path.getsize(path)} bytes) and reloaded: "
          f"{'identical test outputs' if same else 'OUTPUTS DIFFER'}")
    return same


def save_plot(history, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["train_loss"], "o-", label="train (running, dropout on)")
    ax_loss.plot(epochs, history["test_loss"], "s-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log", title="loss")
    ax_acc.plot(epochs, [100 * a for a in history["train_acc"]], "o-", label="train (running, dropout on)")
    ax_acc.plot(epochs, [100 * a for a in history["test_acc"]], "s-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot saved to {path}")


def main(argv=None):
    ap = _backend_argument(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    ap.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs (default %(default)s)")
    ap.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default %(default)s)")
    ap.add_argument("--lr", type=float, default=3e-3, help="initial Adam learning rate (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed (default %(default)s)")
    ap.add_argument("--plot", default="digits_cnn.png",
                    help="PNG for the loss/accuracy curves (default %(default)s)")
    ap.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    ap.add_argument("--checkpoint", default=None,
                    help="where to save the state_dict (default: a temporary file, removed after the check)")
    ap.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads(N) (default: the library's default)")
    ap.add_argument("--min-accuracy", type=float, default=0.97,
                    help="required final test accuracy (default %(default)s)")
    ap.add_argument("--check-from", type=int, default=EPOCHS // 2,
                    help="check --min-accuracy on runs of at least this many epochs (default %(default)s)")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_set, test_set = load_data()
    model = build_model()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"backend: {torch.__name__} {getattr(torch, '__version__', '')}, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"data: {train_set[0].shape[0]} training and {test_set[0].shape[0]} test images of 8x8 pixels")
    print(f"model: {n_params} parameters\n{model}")

    history = train(model, train_set, test_set, args)
    final, first, later = history["test_acc"][-1], history["seconds"][0], history["seconds"][1:]
    warm_up = "kernel compilation or cache loading" if torch.__name__ == "jitgrad" else "warm-up"
    print(f"final test accuracy {final:.2%} after {args.epochs} epochs; the epochs took "
          f"{sum(history['seconds']):.1f} s (first {first:.2f} s, with {warm_up}"
          + (f"; then {sum(later) / len(later):.3f} s/epoch)" if later else ")"))

    if args.checkpoint:
        same = check_checkpoint(model, args.checkpoint, test_set[0])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            same = check_checkpoint(model, os.path.join(tmp, "digits_cnn.pt"), test_set[0])
    if not args.no_plot:
        save_plot(history, args.plot, f"CNN on sklearn digits ({torch.__name__})")

    ok = same
    if args.epochs >= args.check_from:
        reached = final >= args.min_accuracy
        print(f"accuracy target {args.min_accuracy:.0%}: {'reached' if reached else 'MISSED'}")
        ok &= reached
    else:
        print(f"smoke run ({args.epochs} < {args.check_from} epochs): accuracy target not checked")
    print(f"total time {time.perf_counter() - t_start:.1f} s")
    print("DIGITS CNN OK" if ok else "DIGITS CNN FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
