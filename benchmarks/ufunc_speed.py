"""numpy's speed at the gates' elementwise work on this host: what GATE_PATH's choice rests on.

    python benchmarks/ufunc_speed.py [--host-kind emulate-avx2]

Gelem/s of process CPU time (median of 15, ufuncs interleaved) on 25,600 elements (an LSTM step's
B x 4H at B = 100, H = 64), N(0, 4) inputs; then the two sigmoid forms as the LSTM runs them
(the z/2 or -z already folded into the weights): "tanh" = tanh, *, +; "exp" = exp, +, 1/x.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_bptt  # noqa: E402
from numrnn.nn import activations  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host-kind", choices=["native", bench_bptt.EMULATED_KIND], default="native")
    args = p.parse_args(argv)
    if args.host_kind == bench_bptt.EMULATED_KIND and os.environ.get(bench_bptt.HOST_KIND_ENV) != args.host_kind:
        raise SystemExit(subprocess.run([sys.executable, os.path.abspath(__file__), *(argv or sys.argv[1:])],
                                        env=bench_bptt.emulation_env()).returncode)
    print(f"host kind {os.environ.get(bench_bptt.HOST_KIND_ENV, 'native')}; numpy {np.__version__}, enabled "
          f"targets {' '.join(bench_bptt.numpy_cpu_info()['dispatch_enabled'])}; gate path "
          f"{activations.GATE_PATH}; load average {os.getloadavg()[0]:.1f}")
    for dtype in (np.float64, np.float32):
        z = (2 * np.random.default_rng(0).standard_normal(25_600)).astype(dtype)
        y = np.empty_like(z)

        def tanh_form():
            np.tanh(z, out=y)
            y.__imul__(0.5)
            y.__iadd__(0.5)
        calls = {"tanh": lambda: np.tanh(z, out=y), "exp": lambda: np.exp(z, out=y),
                 "multiply": lambda: np.multiply(z, z, out=y), "reciprocal": lambda: np.reciprocal(z, out=y),
                 "sigmoid tanh form": tanh_form,
                 "sigmoid exp form": lambda: activations.reciprocal_one_plus_exp_(np.copyto(y, z) or y)}
        seconds = {name: [] for name in calls}
        for _ in range(15):
            for name, call in calls.items():
                t0 = time.process_time()
                for _ in range(100):
                    call()
                seconds[name].append((time.process_time() - t0) / 100)
        print(np.dtype(dtype).name + ": " + "; ".join(
            f"{name} {z.size / statistics.median(s) / 1e9:.3f}" for name, s in seconds.items()) + " Gelem/s")


if __name__ == "__main__":
    main()
