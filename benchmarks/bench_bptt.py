"""How fast is numrnn's hand-written BPTT? Beside PyTorch, and beside what the BLAS can do.

For each row (a layer, a size, a dtype) one forward and one backward call are timed, contenders
interleaved in one process (their order rotates every repetition), median of ``--reps`` repetitions
after ``--warmup`` untimed ones. Contenders:

- ``numrnn``    : ``layer.forward(x)`` then ``layer.backward(dhs, cache)``.
- ``eager``     : the same equations as a PyTorch eager loop over time, backward by autograd
                  (``out.backward(dhs)``); same weights, checked to give the same numbers.
- ``nn.RNN``    : ``torch.nn.RNN(nonlinearity="relu")``, version A only (it has no K or S).

The limit: every matrix product the BPTT must do (per step: the recurrent product forward and
backward; per sequence: input projection, dW_k, dWx, dx) is timed alone in numpy at its own shape;
the sum is a lower bound on the time (elementwise work and Python counted as zero). Each row prints
its time as a multiple of that bound; "bpeak" is the time of the same FLOPs at the 1024^3 speed.

Memory: tracemalloc's peak over one numrnn forward + backward (numpy reports its buffers to
tracemalloc), against the bytes of what BPTT must keep: h(-P..T-1) and a(0..T-1) for the RNN;
h, c and the four gates for the LSTM.

Run ``python benchmarks/bench_bptt.py --help``; ``--quick`` is a fast sanity run.
PyTorch is optional (``pip install -e ".[bench]"``); without it, or without numrnn/lstm.py, the
script prints what it skipped and why.
"""
import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import datetime, timezone

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)                      # run from a checkout without installing

from numrnn.rnn import RNN  # noqa: E402

CONFIGS = [(100, 100, 6, 64), (100, 100, 6, 256), (32, 500, 6, 64)]   # (B, T, D, H)
LAYERS = [("rnn", "A"), ("rnn", "D"), ("lstm", "D")]
SEED = 0
SCALE = 0.3            # small recurrent gain: version D (skips add identity paths) stays finite over 500 steps


# ----------------------------------------------------------------------------- contenders
def make_layer(family, name, D, H, dtype):
    if family == "rnn":
        return RNN.from_version(name, D, H, scale=SCALE, seed=SEED, dtype=dtype)
    from numrnn.lstm import LSTM
    return LSTM.from_version(name, D, H, scale=SCALE, seed=SEED, dtype=dtype)


def numrnn_contender(layer, x, dhs):
    def run():
        hs, cache = layer.forward(x)
        dx, grads = layer.backward(dhs, cache)
        return hs, dx, grads
    return run


def torch_rnn_loop(torch, x, p, K, S):
    """h(t) = relu(W_k h(t-1) + Wx x(t) + b) [+ h(t-S)], as numrnn.rnn, time-major inside."""
    B, T, _ = x.shape
    P = max(1, S)
    u = x.transpose(0, 1) @ p["Wx"].T + p["b"]            # (T, B, H): one input product
    h = [x.new_zeros(B, p["Wx"].shape[0])] * P             # h(-P) .. h(-1)
    for t in range(T):
        ht = torch.relu(u[t] + h[-1] @ p[f"W{t % K + 1}"].T)
        if S >= 2 and (t + 1) % S == 0:
            ht = ht + h[-S]                               # h[-S] is h(t-S)
        h.append(ht)
    return torch.stack(h[P:], dim=1)


def torch_lstm_loop(torch, x, p, K, S):
    """The equations of numrnn.lstm: gates i, f, g, o; skip added to h only."""
    B, T, _ = x.shape
    P, H = max(1, S), p["W1"].shape[1]
    u = x.transpose(0, 1) @ p["Wx"].T + p["b"]            # (T, B, 4H)
    h = [x.new_zeros(B, H)] * P
    c = x.new_zeros(B, H)
    for t in range(T):
        z = u[t] + h[-1] @ p[f"W{t % K + 1}"].T
        i, f, o = torch.sigmoid(z[:, :H]), torch.sigmoid(z[:, H:2 * H]), torch.sigmoid(z[:, 3 * H:])
        c = f * c + i * torch.tanh(z[:, 2 * H:3 * H])
        ht = o * torch.tanh(c)
        if S >= 2 and (t + 1) % S == 0:
            ht = ht + h[-S]
        h.append(ht)
    return torch.stack(h[P:], dim=1)


def eager_contender(torch, family, layer, x, dhs):
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    xt, dht = torch.tensor(x, requires_grad=True), torch.tensor(dhs)
    loop = torch_rnn_loop if family == "rnn" else torch_lstm_loop

    def run():
        for leaf in (xt, *leaves.values()):
            leaf.grad = None
        hs = loop(torch, xt, leaves, layer.n_matrices, layer.skip)
        hs.backward(dht)
        return hs, xt.grad, {k: v.grad for k, v in leaves.items()}
    return run


def nn_rnn_contender(torch, layer, x, dhs):
    H, D = layer.hidden_size, layer.input_size
    net = torch.nn.RNN(D, H, nonlinearity="relu", batch_first=True,
                       dtype=torch.float32 if layer.dtype == np.float32 else torch.float64)
    with torch.no_grad():                                 # the same weights as numrnn's layer
        net.weight_hh_l0.copy_(torch.tensor(layer.params["W1"]))
        net.weight_ih_l0.copy_(torch.tensor(layer.params["Wx"]))
        net.bias_ih_l0.copy_(torch.tensor(layer.params["b"]))
        net.bias_hh_l0.zero_()
    xt, dht = torch.tensor(x, requires_grad=True), torch.tensor(dhs)

    def run():
        net.zero_grad(set_to_none=True)
        xt.grad = None
        hs, _ = net(xt)
        hs.backward(dht)
        grads = {"W1": net.weight_hh_l0.grad, "Wx": net.weight_ih_l0.grad, "b": net.bias_ih_l0.grad}
        return hs, xt.grad, grads
    return run


def disagreement(reference, other):
    """Largest relative difference of hs, dx and every gradient between two contenders' results."""
    def rel(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b.detach() if hasattr(b, "detach") else b,
                                                           dtype=np.float64)
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30))
    hs, dx, grads = reference
    ohs, odx, ograds = other
    return max([rel(hs, ohs), rel(dx, odx)] + [rel(grads[k], ograds[k]) for k in ograds])


# ----------------------------------------------------------------------------- timing
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_interleaved(contenders, reps, warmup):
    """Median wall and CPU seconds of each contender; order rotated every repetition."""
    names = list(contenders)
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for rep in range(warmup + reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            contenders[name]()
            w1, c1 = time.perf_counter(), time.process_time()
            if rep >= warmup:
                wall[name].append(w1 - w0)
                cpu[name].append(c1 - c0)
    return ({n: statistics.median(wall[n]) for n in names},
            {n: statistics.median(cpu[n]) for n in names})


def matmul_seconds(m, k, n, dtype, reps, clock=time.perf_counter):
    """Median seconds of one numpy (m, k) @ (k, n) into a preallocated output."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    np.matmul(a, b, out=out)
    t0 = clock()
    np.matmul(a, b, out=out)
    inner = max(1, int(2e-3 / max(clock() - t0, 1e-7)))   # ~2 ms per sample
    samples = []
    for _ in range(reps):
        t0 = clock()
        for _ in range(inner):
            np.matmul(a, b, out=out)
        samples.append((clock() - t0) / inner)
    return statistics.median(samples)


def bptt_products(family, B, T, D, H, K):
    """(label, m, k, n, count): every matrix product of one forward + backward."""
    G = 1 if family == "rnn" else 4                       # the LSTM's four gates
    return [("input projection", T * B, D, G * H, 1),
            ("step fwd h W^T", B, H, G * H, T),
            ("step bwd da W", B, G * H, H, T),
            ("dW_k", G * H, math.ceil(T / K) * B, H, K),
            ("dWx", G * H, T * B, D, 1),
            ("dx", T * B, G * H, D, 1)]


def blas_bound(products, dtype, reps, cache, clock):
    """Lower-bound seconds: each product at its own measured speed. Also the FLOP count."""
    seconds = flops = 0.0
    for _label, m, k, n, count in products:
        key = (m, k, n, np.dtype(dtype).name)
        if key not in cache:
            cache[key] = matmul_seconds(m, k, n, dtype, reps, clock)
        seconds += count * cache[key]
        flops += count * 2.0 * m * k * n
    return seconds, flops


# ----------------------------------------------------------------------------- memory
def peak_bytes(run):
    """tracemalloc's peak of one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    run()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def must_keep_bytes(family, layer, B, T):
    """The activations BPTT has to keep: RNN h(-P..T-1), a(0..T-1); LSTM h, c(-1..T-1), 4 gates."""
    P, H, size = layer.n_history, layer.hidden_size, layer.dtype.itemsize
    if family == "rnn":
        return size * B * H * ((P + T) + T)
    return size * B * H * ((P + T) + (1 + T) + 4 * T)


# ----------------------------------------------------------------------------- the run
def machine_info(torch, threads):
    info = {"date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None), "threads": threads,
            "torch_threads": torch.get_num_threads() if torch else None,
            "cpu": _lscpu(), "loadavg_start": os.getloadavg(),
            "env": {k: v for k, v in os.environ.items()
                    if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO", "BLIS"))},
            "blas": [{k: d.get(k) for k in ("internal_api", "version", "architecture",
                                            "num_threads", "threading_layer", "filepath")}
                     for d in threadpool_info()],
            "git": _git_head()}
    return info


def _lscpu():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"model": platform.processor(), "cpus": os.cpu_count()}
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {"model": fields.get("Model name", "?").strip(), "cpus": fields.get("CPU(s)", "?").strip(),
            "threads_per_core": fields.get("Thread(s) per core", "?").strip()}


def _git_head():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        timed = ["numrnn/rnn.py", "numrnn/lstm.py"]
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", *timed],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (rnn.py/lstm.py modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def import_torch(no_torch, say):
    if no_torch:
        say("skipped: PyTorch contenders (--no-torch)")
        return None
    try:
        import torch
    except ImportError as err:
        say(f"skipped: PyTorch contenders (torch not importable: {err}; pip install -e \".[bench]\")")
        return None
    return torch


def available_layers(layers, say):
    try:
        import numrnn.lstm  # noqa: F401
    except ImportError as err:
        if any(f == "lstm" for f, _ in layers):
            say(f"skipped: LSTM rows (numrnn.lstm not importable: {err})")
        return [(f, v) for f, v in layers if f != "lstm"]
    return layers


def bench_row(family, name, config, dtype, torch, args, blas_cache):
    B, T, D, H = config
    rng = np.random.default_rng(SEED)
    layer = make_layer(family, name, D, H, dtype)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    dhs = rng.standard_normal((B, T, H)).astype(dtype)
    contenders = {"numrnn": numrnn_contender(layer, x, dhs)}
    if torch is not None:
        contenders["eager"] = eager_contender(torch, family, layer, x, dhs)
        if family == "rnn" and layer.n_matrices == 1 and layer.skip < 2:
            contenders["nn.RNN"] = nn_rnn_contender(torch, layer, x, dhs)
    reference = contenders["numrnn"]()
    if not np.all(np.isfinite(reference[0])):
        raise RuntimeError(f"{family} {name} {config}: activations are not finite; lower SCALE")
    agree = max([disagreement(reference, run()) for n, run in contenders.items() if n != "numrnn"],
                default=0.0)
    wall, cpu = time_interleaved(contenders, args.reps, args.warmup)
    bound, flops = blas_bound(bptt_products(family, B, T, D, H, layer.n_matrices), dtype,
                              args.blas_reps, blas_cache, CLOCKS[args.clock])
    peak = peak_bytes(contenders["numrnn"])
    keep = must_keep_bytes(family, layer, B, T)
    return {"layer": f"{family.upper()} {name}", "B": B, "T": T, "D": D, "H": H,
            "dtype": np.dtype(dtype).name, "seconds": wall if args.clock == "wall" else cpu,
            "wall_s": wall, "cpu_s": cpu, "bound_s": bound,
            "gflop": flops / 1e9, "peak_bytes": peak, "keep_bytes": keep, "max_rel_diff": agree}


def format_row(r, peak_gflops):
    w = r["seconds"]
    ms = lambda n: f"{1e3 * w[n]:8.2f}" if n in w else f"{'-':>8}"          # noqa: E731
    ratio = lambda n: f"{w['numrnn'] / w[n]:6.2f}" if n in w else f"{'-':>6}"  # noqa: E731
    times_bound = "/".join(f"{w[n] / r['bound_s']:.1f}" for n in ("numrnn", "eager", "nn.RNN") if n in w)
    return (f"{r['layer']:<7}{r['B']:>4}{r['T']:>4}{r['D']:>3}{r['H']:>4} {r['dtype']:<8}"
            f"{ms('numrnn')}{ms('eager')}{ms('nn.RNN')}  {ratio('eager')} {ratio('nn.RNN')}"
            f"{r['gflop']:7.3f}{1e3 * r['bound_s']:8.2f}{1e3 * r['gflop'] / peak_gflops[r['dtype']]:7.2f}"
            f"  {times_bound:<14}{r['peak_bytes'] / 2**20:7.1f}{r['keep_bytes'] / 2**20:7.1f}"
            f"{r['peak_bytes'] / r['keep_bytes']:6.2f}  {r['max_rel_diff']:.1e}")


HEADER = ("layer     B   T  D   H dtype    numrnn   eager  nn.RNN   /eager /nnRNN  GFLOP bound  bpeak"
          "  x bound        peakMB keepMB  mem   agree\n"
          "                                    ms      ms      ms                          ms     ms"
          "  nr/eager/nnRNN")


def geomean(values):
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def summary(rows):
    eager = [r["seconds"]["numrnn"] / r["seconds"]["eager"] for r in rows if "eager" in r["seconds"]]
    nn_rnn = [r["seconds"]["numrnn"] / r["seconds"]["nn.RNN"] for r in rows if "nn.RNN" in r["seconds"]]
    worst_bound = max(rows, key=lambda r: r["seconds"]["numrnn"] / r["bound_s"])
    worst_mem = max(rows, key=lambda r: r["peak_bytes"] / r["keep_bytes"])
    return {"geomean_numrnn_over_eager": geomean(eager), "n_eager": len(eager),
            "geomean_numrnn_over_nn_rnn": geomean(nn_rnn), "n_nn_rnn": len(nn_rnn),
            "worst_times_bound": worst_bound["seconds"]["numrnn"] / worst_bound["bound_s"],
            "worst_times_bound_row": _row_name(worst_bound),
            "worst_memory_ratio": worst_mem["peak_bytes"] / worst_mem["keep_bytes"],
            "worst_memory_row": _row_name(worst_mem)}


def _row_name(r):
    return f"{r['layer']} B={r['B']} T={r['T']} H={r['H']} {r['dtype']}"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="3 repetitions, 1 warm-up: a sanity run")
    p.add_argument("--reps", type=int, default=9, help="timed repetitions per contender (median)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--blas-reps", type=int, default=9)
    p.add_argument("--peak-size", type=int, default=1024, help="n of the n^3 matmul for peak GFLOP/s")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP threads for numpy and torch alike (default 1)")
    p.add_argument("--config", action="append", metavar="B,T,D,H",
                   help="a size to run instead of the three defaults (repeatable)")
    p.add_argument("--dtype", action="append", choices=["float32", "float64"])
    p.add_argument("--layer", action="append", choices=["rnn-A", "rnn-D", "lstm-D"])
    p.add_argument("--no-torch", action="store_true", help="numrnn and the BLAS bound only")
    p.add_argument("--clock", choices=list(CLOCKS), default="wall",
                   help="wall (default) or cpu: process CPU time, robust on a busy machine; "
                        "the same as wall for one thread on an idle one (use with --threads 1)")
    p.add_argument("--save", metavar="PREFIX", help="also write PREFIX.txt and PREFIX.json")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.warmup, args.blas_reps, args.peak_size = 3, 1, 3, 512
    if min(args.reps, args.blas_reps, args.threads) < 1 or args.warmup < 0:
        p.error("--reps, --blas-reps and --threads must be >= 1, --warmup >= 0")
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu adds up the CPU time of all threads: use it with --threads 1")
    try:
        args.config = ([tuple(int(v) for v in c.split(",")) for c in args.config]
                       if args.config else CONFIGS)
    except ValueError:
        p.error("--config takes four integers B,T,D,H")
    if any(len(c) != 4 or min(c) < 1 for c in args.config):
        p.error("--config takes four positive integers B,T,D,H")
    args.dtype = args.dtype or ["float32", "float64"]
    args.layer = [tuple(s.split("-")) for s in args.layer] if args.layer else LAYERS
    return args


def main(argv=None):
    args = parse_args(argv)
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say("command: python benchmarks/bench_bptt.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    torch = import_torch(args.no_torch, say)
    layers = available_layers(args.layer, say)
    with threadpool_limits(limits=args.threads):
        if torch is not None:
            torch.set_num_threads(args.threads)
        info = machine_info(torch, args.threads)
        say(f"machine: {info['cpu']['model']}, {info['cpu']['cpus']} CPUs; python {info['python']}, "
            f"numpy {info['numpy']}, torch {info['torch']}; git {info['git']}; {info['date_utc']} UTC")
        say(f"threads: numpy BLAS {args.threads}, torch {info['torch_threads']}; "
            f"load average at start {info['loadavg_start'][0]:.2f}; env {info['env'] or '{}'}")
        for lib in info["blas"]:
            say(f"  {lib['internal_api']} {lib['version']} kernel={lib['architecture']} "
                f"threads={lib['num_threads']} ({os.path.basename(lib['filepath'])})")
        n = args.peak_size
        peak = {dt: 2 * n**3 / matmul_seconds(n, n, n, dt, args.blas_reps, CLOCKS[args.clock]) / 1e9
                for dt in args.dtype}
        say(f"numpy matmul at {n}^3: " + ", ".join(f"{dt} {g:.1f} GFLOP/s" for dt, g in peak.items()))
        say(f"timing: {args.clock} clock, median of {args.reps} after {args.warmup} warm-up, forward + "
            f"backward, contenders interleaved; seed {SEED}, init normal scale {SCALE}")
        say()
        say(HEADER)
        rows, blas_cache = [], {}
        for family, name in layers:
            for config in args.config:
                for dt in args.dtype:
                    row = bench_row(family, name, config, np.dtype(dt).type, torch, args, blas_cache)
                    rows.append(row)
                    say(format_row(row, peak))
        say()
        say("matmul speed at the loop's shapes (GFLOP/s): " + "; ".join(
            f"{m}x{k}x{n} {dt} {2 * m * k * n / s / 1e9:.1f}" for (m, k, n, dt), s in blas_cache.items()))
    s = summary(rows)
    info["loadavg_end"] = os.getloadavg()
    say(f"load average at end {info['loadavg_end'][0]:.2f}")
    say(f"SUMMARY ({args.clock} clock) geomean numrnn/eager = {s['geomean_numrnn_over_eager']:.2f} over {s['n_eager']} rows; "
        f"numrnn/nn.RNN = {s['geomean_numrnn_over_nn_rnn']:.2f} over {s['n_nn_rnn']} rows; "
        f"worst x bound {s['worst_times_bound']:.2f} ({s['worst_times_bound_row']}); "
        f"worst memory {s['worst_memory_ratio']:.2f} x keep ({s['worst_memory_row']})")
    if args.save:
        _write_atomic(args.save + ".txt", "\n".join(lines) + "\n")
        _write_atomic(args.save + ".json", json.dumps(
            {"args": {k: v for k, v in vars(args).items()}, "machine": info, "peak_gflops": peak,
             "blas_seconds": {"x".join(map(str, k)): v for k, v in blas_cache.items()},
             "rows": rows, "summary": s}, indent=1, default=str) + "\n")
    return rows, s


def _write_atomic(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
