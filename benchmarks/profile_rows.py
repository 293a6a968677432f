"""Where one benchmark row's forward and backward spend their CPU time, function by function.

    python benchmarks/profile_rows.py                       # the LSTM A rows at B = 100, T = 100, H = 64
    python benchmarks/profile_rows.py --host-kind emulate-avx2 --row lstm-A,32,500,6,64,float32

cProfile with the process's CPU time as its clock, one BLAS thread, the median of ``--reps`` calls of
each of the forward and the backward (after a warm-up), on bench_bptt.py's weights and inputs. The
step helpers (``_activate_gates``, ``tanh_into``, ``_cell_backward``, ...) are functions, so they
show up; what is left in ``forward``/``backward`` themselves (tottime) is the recurrent product,
the inline ufuncs of the step and the loop. Both gate paths are profiled unless ``--path`` is given;
cProfile's own cost (~1 us a call) is in every figure. ``--host-kind emulate-avx2`` reruns in a
child process as bench_bptt.py does.
"""
import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_bptt  # noqa: E402  (puts the checkout on sys.path)
from numrnn.nn import activations  # noqa: E402

ROWS = ["lstm-A,100,100,6,64,float64", "lstm-A,100,100,6,64,float32"]


def profile_call(call, reps):
    """{function name: (median tottime, median cumtime)} in ms over ``reps`` profiled calls."""
    runs = []
    for _ in range(reps):
        prof = cProfile.Profile(time.process_time)
        prof.runcall(call)
        stats = pstats.Stats(prof).stats
        runs.append({f"{os.path.basename(k[0])}:{k[2]}": (v[2], v[3]) for k, v in stats.items()})
    names = set().union(*runs)
    return {n: tuple(1e3 * statistics.median(r.get(n, (0, 0))[i] for r in runs) for i in (0, 1))
            for n in names}


def profile_row(row, path, reps):
    family, name = row[0].split("-")
    B, T, D, H = map(int, row[1:5])
    dtype = np.dtype(row[5]).type
    activations.GATE_PATH = path
    layer = bench_bptt.make_layer(family, name, D, H, dtype)
    rng = np.random.default_rng(bench_bptt.SEED)
    x, dhs = rng.standard_normal((B, T, D)).astype(dtype), rng.standard_normal((B, T, H)).astype(dtype)
    _, cache = layer.forward(x)
    layer.backward(dhs, cache)
    lines = []
    calls = (("forward", lambda: layer.forward(x)), ("backward", lambda: layer.backward(dhs, cache)))
    for label, call in calls:
        timed = profile_call(call, reps)
        top = sorted(timed.items(), key=lambda kv: -kv[1][0])[:8]
        total = max(cum for _tot, cum in timed.values())
        lines.append(f"  {label:<8} {total:7.2f} ms: " + "; ".join(
            f"{n.split(':')[-1]} {tot:.2f}" for n, (tot, _cum) in top if tot >= 0.05 * total / 5))
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--row", action="append", help="family-version,B,T,D,H,dtype (repeatable)")
    p.add_argument("--path", choices=activations.GATE_PATHS, help="default: both")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--host-kind", choices=["native", bench_bptt.EMULATED_KIND], default="native")
    args = p.parse_args(argv)
    if args.host_kind == bench_bptt.EMULATED_KIND and os.environ.get(bench_bptt.HOST_KIND_ENV) != args.host_kind:
        import subprocess
        argv = list(sys.argv[1:] if argv is None else argv)
        raise SystemExit(subprocess.run([sys.executable, os.path.abspath(__file__), *argv],
                                        env=bench_bptt.emulation_env()).returncode)
    cpu = bench_bptt.numpy_cpu_info()
    blas = [(d["internal_api"], d["version"], d["architecture"]) for d in threadpool_info()]
    print(f"command: python benchmarks/profile_rows.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"host kind {os.environ.get(bench_bptt.HOST_KIND_ENV, 'native')}; {bench_bptt._lscpu()['model']}; "
          f"numpy {np.__version__} targets enabled {' '.join(cpu['dispatch_enabled'])}; BLAS {blas}; "
          f"1 thread; load average {os.getloadavg()[0]:.1f}; host's gate path {activations.GATE_PATH}")
    print("per call, ms of CPU time (cProfile tottime, median of reps): the function, then its own time")
    with threadpool_limits(limits=1):
        for spec in args.row or ROWS:
            row = spec.split(",")
            for path in [args.path] if args.path else activations.GATE_PATHS:
                print(f"{spec} gate path {path}")
                for line in profile_row(row, path, args.reps):
                    print(line, flush=True)


if __name__ == "__main__":
    main()
