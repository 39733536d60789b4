"""Start-up cost (W4), measured in fresh subprocesses.

``track_warm_startup``: ``import jitgrad`` + one gradient of the W1 chain with Numba's
on-disk cache warm (what every run after the first pays).  ``track_cold_compile``: the same
with ``NUMBA_CACHE_DIR`` pointed at an empty temp dir, so every kernel the gradient needs is
compiled (what the very first run pays).  ``StartupW3`` does the same for one whole W3
training step (``nn.Linear``, ReLU, cross-entropy, SGD): its cold run is the compile time of
everything W3 touches.  All report seconds measured inside the child (the interpreter's own
start-up excluded), the median of a few runs.
"""
import statistics

import jitgrad

from .common import W3_FEATURES, require, startup_once


class Startup:
    unit = "seconds"
    timeout = 600
    number = 1
    repeat = 1
    warm_runs = 5
    cold_runs = 2

    def setup_cache(self):
        # Fill the default Numba cache once, so the warm runs load and never compile.
        startup_once("jitgrad")

    def track_warm_startup(self):
        return statistics.median(startup_once("jitgrad")["total_s"] for _ in range(self.warm_runs))

    track_warm_startup.unit = "seconds"

    def track_warm_import(self):
        return statistics.median(startup_once("jitgrad")["import_s"] for _ in range(self.warm_runs))

    track_warm_import.unit = "seconds"

    def track_cold_compile(self):
        return statistics.median(startup_once("jitgrad", cold_cache=True)["total_s"]
                                 for _ in range(self.cold_runs))

    track_cold_compile.unit = "seconds"


class StartupW3:
    unit = "seconds"
    timeout = 900
    number = 1
    repeat = 1
    warm_runs = 3
    cold_runs = 1

    def setup(self):
        require(jitgrad, *W3_FEATURES)
        startup_once("jitgrad", what="w3")  # warm the default cache for the warm runs

    def track_warm_w3_step(self):
        return statistics.median(startup_once("jitgrad", what="w3")["total_s"] for _ in range(self.warm_runs))

    track_warm_w3_step.unit = "seconds"

    def track_cold_compile_w3(self):
        return statistics.median(startup_once("jitgrad", cold_cache=True, what="w3")["total_s"]
                                 for _ in range(self.cold_runs))

    track_cold_compile_w3.unit = "seconds"
