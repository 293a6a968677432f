"""numrnn's forward + backward at an older git revision beside the working tree: what a change bought.

    python benchmarks/compare_revisions.py --rnn-rev 7645c73 --lstm-rev c49046d

    python benchmarks/compare_revisions.py --lstm-rev b8a198e --family lstm --host-kind emulate-avx2

Loads ``numrnn/nn/rnn.py`` and ``numrnn/nn/lstm.py`` as they were at the given revisions (``git
show``; ``numrnn/rnn.py``, ``numrnn/lstm.py`` before the cells moved) next to the current ones, and
times them interleaved in one process, the order rotating every repetition (median and min of
``--reps`` after one warm-up, process CPU time, one BLAS thread) on the sizes of bench_bptt.py. Also
prints tracemalloc's peak of one call of each, as a multiple of what BPTT must keep.
``--host-kind emulate-avx2`` reruns it in a child process that sees an AVX2 host, as bench_bptt.py.
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numrnn  # noqa: E402  (the package the loaded modules import from)
import numrnn.nn.activations  # noqa: E402
from bench_bptt import (CONFIGS, EMULATED_KIND, HOST_KIND_ENV, SCALE, SEED, emulation_env,  # noqa: E402
                        must_keep_bytes, numpy_cpu_info, peak_bytes)
from threadpoolctl import threadpool_info  # noqa: E402


def load_module(name, rev, path):
    """<path> at git revision ``rev`` (or the working tree if rev is None), imported.

    An old revision's cell is imported with the whole package as it was at that revision
    (``git archive`` into a temporary folder, renamed ``numrnn_at_<rev>``), so that its relative
    imports (``from .base``, ``from .._checks``) find the protocol and kernels of its own time: the
    split of nn/base.py into protocol.py and kernels.py, and any later rename, cannot break it.
    Before the cells moved into numrnn/nn/ they lived in numrnn/; both places are tried.
    """
    if rev is None:
        spec = importlib.util.spec_from_file_location(f"numrnn.nn.{name}", os.path.join(ROOT, path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    package = f"numrnn_at_{rev}"
    if package not in sys.modules:
        folder = tempfile.mkdtemp(prefix="numrnn_rev_")
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "numrnn"], capture_output=True)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {rev} numrnn failed: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        os.rename(os.path.join(folder, "numrnn"), os.path.join(folder, package))
        sys.path.insert(0, folder)
    cell = os.path.splitext(os.path.basename(path))[0]
    for dotted in (f"{package}.nn.{cell}", f"{package}.{cell}"):
        try:
            return importlib.import_module(dotted)
        except ModuleNotFoundError as error:
            if not dotted.startswith(error.name or "?"):
                raise
    raise SystemExit(f"{path} is not in numrnn at {rev} (nor numrnn/{cell}.py)")


def time_pair(layers, x, dhs, reps):
    """{label: [seconds]} of forward + backward, interleaved."""
    times = {label: [] for label in layers}
    order = list(layers.items())
    for rep in range(reps + 1):
        for label, layer in order[rep % len(order):] + order[:rep % len(order)]:  # rotate the order
            t0 = time.process_time()
            hs, cache = layer.forward(x)
            layer.backward(dhs, cache)
            if rep:
                times[label].append(time.process_time() - t0)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rnn-rev", default="7645c73", help="revision of numrnn/rnn.py to compare with")
    p.add_argument("--lstm-rev", default="c49046d", help="revision of numrnn/lstm.py to compare with")
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--family", action="append", choices=["rnn", "lstm"], help="default: both")
    p.add_argument("--config", action="append", metavar="B,T,D,H",
                   help="a size instead of bench_bptt.py's three (repeatable)")
    p.add_argument("--host-kind", choices=["native", EMULATED_KIND], default="native")
    args = p.parse_args(argv)
    if args.host_kind == EMULATED_KIND and os.environ.get(HOST_KIND_ENV) != EMULATED_KIND:
        argv = list(sys.argv[1:] if argv is None else argv)
        raise SystemExit(subprocess.run([sys.executable, os.path.abspath(__file__), *argv],
                                        env=emulation_env()).returncode)
    print("command: python benchmarks/compare_revisions.py "
          + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"process CPU time, 1 BLAS thread, median (min) of {args.reps}; seed {SEED}, scale {SCALE}; "
          f"load average {os.getloadavg()[0]:.1f}")
    blas = [(d["internal_api"], d["version"], d["architecture"]) for d in threadpool_info()]
    print(f"host kind {os.environ.get(HOST_KIND_ENV, 'native')}: numpy's enabled dispatch targets "
          f"{' '.join(numpy_cpu_info()['dispatch_enabled'])}; BLAS {blas}; numrnn gate path "
          f"{numrnn.nn.activations.GATE_PATH}")
    families = args.family or ["rnn", "lstm"]
    configs = [tuple(int(v) for v in c.split(",")) for c in args.config] if args.config else CONFIGS
    pairs = [("rnn", "RNN", v, args.rnn_rev, "numrnn/nn/rnn.py") for v in ("A", "D") if "rnn" in families]
    pairs += [("lstm", "LSTM", v, args.lstm_rev, "numrnn/nn/lstm.py") for v in ("A", "D")
              if "lstm" in families]
    print(f"{'layer':<7}{'B':>4}{'T':>4}{'H':>4} {'dtype':<8}{'before ms':>16}{'after ms':>16}"
          f"{'speed-up':>9}{'mem before':>11}{'mem after':>10}")
    with threadpool_limits(limits=1):
        for family, cls, version, rev, path in pairs:
            old, new = load_module(f"old_{family}", rev, path), load_module(f"new_{family}", None, path)
            for B, T, D, H in configs:
                for dtype in (np.float32, np.float64):
                    rng = np.random.default_rng(SEED)
                    x = rng.standard_normal((B, T, D)).astype(dtype)
                    dhs = rng.standard_normal((B, T, H)).astype(dtype)
                    layers = {k: getattr(m, cls).from_version(version, D, H, scale=SCALE, seed=SEED,
                                                              dtype=dtype)
                              for k, m in (("before", old), ("after", new))}
                    t = time_pair(layers, x, dhs, args.reps)
                    keep = must_keep_bytes(family, layers["after"], B, T)
                    mem = {k: peak_bytes(lambda layer=layer: layer.backward(dhs, layer.forward(x)[1]))
                           / keep for k, layer in layers.items()}
                    ms = {k: (1e3 * np.median(v), 1e3 * np.min(v)) for k, v in t.items()}
                    print(f"{cls + ' ' + version:<7}{B:>4}{T:>4}{H:>4} {np.dtype(dtype).name:<8}"
                          f"{ms['before'][0]:9.2f} ({ms['before'][1]:5.1f}){ms['after'][0]:9.2f} "
                          f"({ms['after'][1]:5.1f}){ms['before'][0] / ms['after'][0]:8.2f}x"
                          f"{mem['before']:10.2f}x{mem['after']:9.2f}x", flush=True)


if __name__ == "__main__":
    main()
