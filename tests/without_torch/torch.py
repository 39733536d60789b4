"""A stand-in that makes ``import torch`` fail as if PyTorch were not installed.

``.ci/run`` puts this directory first on ``PYTHONPATH`` for its torch-absent run, so the test
suite (and any interpreter it starts) runs the way it does without the ``test`` extra's torch:
every torch comparison must skip, never fail.  Use it by hand the same way:

    PYTHONPATH=tests/without_torch python -m pytest -q
"""
raise ModuleNotFoundError("No module named 'torch' (blocked by tests/without_torch for the torch-absent run)",
                          name="torch")
