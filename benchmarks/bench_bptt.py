"""How fast is numrnn's hand-written BPTT? Beside the strongest PyTorch a user would pick, and the BLAS.

For each row (a layer, a size, a dtype) one forward and one backward call are timed, contenders
interleaved in one process (their order rotates every repetition), median of ``--reps`` repetitions
after ``--warmup`` untimed ones. Wall clock is the measure (``--clock cpu`` switches); the process's
CPU time is printed beside it. Contenders:

- ``numrnn``  : ``layer.forward(x)`` then ``layer.backward(dhs, cache)``.
- ``eager``   : the same equations as a PyTorch eager loop over time, written as a competent user
                writes it (one input product, split once with ``unbind``; ``addmm`` per step; one
                ``stack``), backward by autograd (``hs.backward(dhs)``). Same weights, checked to
                give the same numbers. Its backward is O(T) (``backward_bytes_per_step``).
- ``nn.RNN`` / ``nn.LSTM`` : PyTorch's fused kernels with numrnn's weights, version A only (they
                have no K or S). Gate order i, f, g, o as numrnn's; numrnn's one bias b is
                ``bias_ih`` and ``bias_hh`` is 0.

The limit: every matrix product the BPTT must do (per step: the recurrent product forward and
backward; per sequence: input projection, dW_k, dWx, dx) is timed alone in numpy at its own shape;
the sum is a lower bound on the time (elementwise work and Python counted as zero). ``x bound`` is a
time as a multiple of it; "bpeak" is the time of the same FLOPs at the 1024^3 speed. Where numrnn's
time goes beyond the bound is measured per row: Python (the same call at B = H = 1), the kernel
(system time: page faults of fresh arrays) and the rest (elementwise ufuncs, memory traffic).

Memory: tracemalloc's peak over one numrnn forward + backward (numpy reports its buffers to
tracemalloc), against the bytes of what BPTT must keep: h(-P..T-1) and a(0..T-1) for the RNN;
h, c and the four gates for the LSTM.

Load: the 1-minute load average is read at the start, after every row and at the end. Above
``--max-load`` (default threads + 0.5) the machine was busy: the output and the saved files say
BUSY, and ``--require-idle`` refuses to report.

Host kinds: numpy vectorises tanh and exp with AVX-512 only, and OpenBLAS picks its kernel by CPU,
so the numbers depend on the kind of host. ``--host-kind emulate-avx2`` reruns the benchmark in a
child process that sees an AVX2 host (as an AMD EPYC without AVX-512): numpy's AVX-512 dispatch
targets disabled (``NPY_DISABLE_CPU_FEATURES``), OpenBLAS's Haswell kernel (``OPENBLAS_CORETYPE``),
torch's AVX2 kernels (``ATEN_CPU_CAPABILITY``, ``MKL_ENABLE_INSTRUCTIONS``, ``ONEDNN_MAX_CPU_ISA``); the
header prints what took effect and the run stops if any of it did not.

Run ``python benchmarks/bench_bptt.py --help``; ``--quick`` is a fast sanity run.
PyTorch is optional (``pip install -e ".[bench]"``); without it the script runs numrnn and the
bound, and prints what it skipped and why.
"""
import argparse
import contextlib
import gc
import json
import math
import os
import platform
import resource
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

from numrnn import LSTM, RNN  # noqa: E402
from numrnn.nn import activations  # noqa: E402

CONFIGS = [(100, 100, 6, 64), (100, 100, 6, 256), (32, 500, 6, 64)]   # (B, T, D, H)
LAYERS = [("rnn", "A"), ("rnn", "D"), ("lstm", "A"), ("lstm", "D")]
VERSIONS = ("A", "B", "C", "D", "special")
FUSED = {"rnn": "nn.RNN", "lstm": "nn.LSTM"}     # PyTorch's fused layer per family (version A only)
SEED = 0
SCALE = 0.3            # small recurrent gain: version D (skips add identity paths) stays finite over 500 steps
TARGETS = {"eager": 0.6, "nn.RNN": 0.55, "nn.LSTM": 1.0, "lstm_a_row": 1.2, "x_bound": 2.5,
           "memory": 1.5}                        # issue 25, on every kind of host
EMULATED_KIND = "emulate-avx2"
HOST_KIND_ENV = "NUMRNN_BENCH_HOST_KIND"         # set in the child process of --host-kind emulate-avx2
AGREE = {"float32": 1e-3, "float64": 1e-9}       # largest relative difference that counts as the same


# ----------------------------------------------------------------------------- contenders
def make_layer(family, name, D, H, dtype):
    cls = RNN if family == "rnn" else LSTM
    return cls.from_version(name, D, H, scale=SCALE, seed=SEED, dtype=dtype)


def numrnn_contender(layer, x, dhs):
    def run():
        hs, cache = layer.forward(x)
        dx, grads = layer.backward(dhs, cache)
        return hs, dx, grads
    return run


def torch_rnn_loop(torch, x, p, K, S):
    """h(t) = relu(W_k h(t-1) + Wx x(t) + b) [+ h(t-S)], as numrnn's RNN, as a competent user writes it.

    The input projection is one product, split once into T views with ``unbind``: its backward
    stacks the T gradients once. (Indexing ``u[t]`` inside the loop instead makes the backward of
    every step fill a zero tensor of the whole (T, B, H): O(T^2).) ``addmm`` adds u(t) inside the
    product; the outputs are stacked once at the end.
    """
    B, T, _ = x.shape
    P = max(1, S)
    u = (x.transpose(0, 1) @ p["Wx"].T + p["b"]).unbind(0)   # T views (B, H): Wx x(t) + b
    W_T = [p[f"W{k + 1}"].T for k in range(K)]
    h = [x.new_zeros(B, p["Wx"].shape[0])] * P             # h(-P) .. h(-1)
    for t in range(T):
        ht = torch.relu(torch.addmm(u[t], h[-1], W_T[t % K]))
        if S >= 2 and (t + 1) % S == 0:
            ht = ht + h[-S]                               # h[-S] is h(t-S)
        h.append(ht)
    return torch.stack(h[P:], dim=1)


def torch_lstm_loop(torch, x, p, K, S):
    """The equations of numrnn's LSTM (gates i, f, g, o; skip added to h only), written as
    :func:`torch_rnn_loop`."""
    B, T, _ = x.shape
    P, H = max(1, S), p["W1"].shape[1]
    u = (x.transpose(0, 1) @ p["Wx"].T + p["b"]).unbind(0)   # T views (B, 4H)
    W_T = [p[f"W{k + 1}"].T for k in range(K)]
    h = [x.new_zeros(B, H)] * P
    c = x.new_zeros(B, H)
    for t in range(T):
        i, f, g, o = torch.addmm(u[t], h[-1], W_T[t % K]).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        ht = torch.sigmoid(o) * torch.tanh(c)
        if S >= 2 and (t + 1) % S == 0:
            ht = ht + h[-S]
        h.append(ht)
    return torch.stack(h[P:], dim=1)


LOOPS = {"rnn": torch_rnn_loop, "lstm": torch_lstm_loop}


def torch_rnn_loop_indexed(torch, x, p, K, S):
    """The RNN eager loop as this benchmark first wrote it (until issue 18): ``u[t]`` read inside the
    loop. The backward of each such read (select_backward) fills a zero tensor of the whole (T, B, H),
    so the backward is O(T^2). Not a contender; kept to show what the O(T) checks catch."""
    B, T, _ = x.shape
    P = max(1, S)
    u = x.transpose(0, 1) @ p["Wx"].T + p["b"]
    h = [x.new_zeros(B, p["Wx"].shape[0])] * P
    for t in range(T):
        ht = torch.relu(u[t] + h[-1] @ p[f"W{t % K + 1}"].T)
        if S >= 2 and (t + 1) % S == 0:
            ht = ht + h[-S]
        h.append(ht)
    return torch.stack(h[P:], dim=1)


def eager_check_lines(torch, families, reps):
    """What the profiler says about the eager loops' backward, and the old indexed loop beside them."""
    lines = []
    for family in families:
        per_step = [backward_bytes_per_step(torch, family, T) for T in (16, 64)]
        lines.append(f"eager {family} backward: torch allocates {per_step[0]:.0f} bytes/step at T=16, "
                     f"{per_step[1]:.0f} at T=64 (profiler; constant per step: an O(T) backward)")
    per_step = [backward_bytes_per_step(torch, "rnn", T, loop=torch_rnn_loop_indexed) for T in (16, 64)]
    B, T, D, H = 32, 500, 6, 64
    layer = make_layer("rnn", "A", D, H, np.float32)
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    dhs = rng.standard_normal((B, T, H)).astype(np.float32)
    ms = {}
    for label, loop in (("unbind", torch_rnn_loop), ("u[t]", torch_rnn_loop_indexed)):
        timed = time_interleaved({label: eager_contender(torch, "rnn", layer, x, dhs, loop)}, reps, 1)
        ms[label] = 1e3 * timed[label]["wall"]
    lines.append(f"the old eager loop (u[t] inside the loop): {per_step[0]:.0f} bytes/step at T=16, "
                 f"{per_step[1]:.0f} at T=64 (O(T^2)); RNN A B={B} T={T} H={H} float32 forward + backward "
                 f"{ms['u[t]']:.1f} ms against {ms['unbind']:.1f} ms for the loop used here (wall)")
    return lines


def eager_contender(torch, family, layer, x, dhs, loop=None):
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    xt, dht = torch.tensor(x, requires_grad=True), torch.tensor(dhs)
    loop = loop or LOOPS[family]

    def run():
        for leaf in (xt, *leaves.values()):
            leaf.grad = None
        hs = loop(torch, xt, leaves, layer.n_matrices, layer.skip)
        hs.backward(dht)
        return hs, xt.grad, {k: v.grad for k, v in leaves.items()}
    return run


def fused_contender(torch, family, layer, x, dhs):
    """torch.nn.RNN(nonlinearity="relu") or torch.nn.LSTM carrying numrnn's weights (version A).

    Both keep W (G*H, H) and Wx (G*H, D) with the gate blocks of the LSTM in the order i, f, g, o,
    as numrnn does, so the matrices copy over as they are; numrnn's one bias b becomes bias_ih and
    bias_hh is 0 (only their sum enters the equations).
    """
    H, D = layer.hidden_size, layer.input_size
    kind = torch.nn.RNN if family == "rnn" else torch.nn.LSTM
    extra = {"nonlinearity": "relu"} if family == "rnn" else {}
    net = kind(D, H, batch_first=True, **extra,
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
        grads = {"W1": net.weight_hh_l0.grad, "Wx": net.weight_ih_l0.grad, "b": net.bias_ih_l0.grad,
                 "b (bias_hh)": net.bias_hh_l0.grad}      # b = bias_ih + bias_hh: the same gradient
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
    return max([rel(hs, ohs), rel(dx, odx)] + [rel(grads[k.split()[0]], ograds[k]) for k in ograds])


def backward_bytes_per_step(torch, family, T, B=2, D=3, H=4, K=1, S=0, loop=None):
    """Bytes torch allocates in the backward of the eager loop, per step (torch.profiler).

    Constant in T for an O(T) backward; growing with T when each step's backward touches a
    (T, B, H) tensor (``u[t]`` inside the loop). Deterministic: it counts allocations, not time.
    """
    from torch.profiler import ProfilerActivity, profile
    loop = loop or LOOPS[family]
    G = 1 if family == "rnn" else 4
    gen = torch.Generator().manual_seed(SEED)
    p = {f"W{k + 1}": torch.randn(G * H, H, generator=gen, dtype=torch.float64) * 0.3 for k in range(K)}
    p.update(Wx=torch.randn(G * H, D, generator=gen, dtype=torch.float64),
             b=torch.zeros(G * H, dtype=torch.float64))
    for leaf in p.values():
        leaf.requires_grad_(True)
    x = torch.randn(B, T, D, generator=gen, dtype=torch.float64, requires_grad=True)
    hs = loop(torch, x, p, K, S)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        hs.backward(torch.ones_like(hs))
    return sum(e.self_cpu_memory_usage for e in prof.events() if e.self_cpu_memory_usage > 0) / T


# ----------------------------------------------------------------------------- timing
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_interleaved(contenders, reps, warmup):
    """Per contender: median wall and CPU seconds of one call, mean system seconds and minor page
    faults per call. The order of the contenders rotates every repetition."""
    names = list(contenders)
    samples = {n: {"wall": [], "cpu": [], "sys": [], "minflt": []} for n in names}
    with gc_paused():
        for rep in range(warmup + reps):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for name in order:
                _time_one(contenders[name], samples[name] if rep >= warmup else None)
    return {n: {"wall": statistics.median(s["wall"]), "cpu": statistics.median(s["cpu"]),
                "sys": statistics.fmean(s["sys"]), "minflt": statistics.fmean(s["minflt"])}
            for n, s in samples.items()}


@contextlib.contextmanager
def gc_paused():
    """No garbage collection while timing (as timeit does): one gc.collect() costs ~0.2 s once torch
    is imported, and arrays and autograd graphs are freed by reference counting anyway."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _time_one(run, into):
    """Call run() once; append its wall, CPU and system seconds and minor page faults to ``into``."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    w0, c0 = time.perf_counter(), time.process_time()
    run()
    w1, c1 = time.perf_counter(), time.process_time()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    if into is not None:
        into["wall"].append(w1 - w0)
        into["cpu"].append(c1 - c0)
        into["sys"].append(r1.ru_stime - r0.ru_stime)
        into["minflt"].append(r1.ru_minflt - r0.ru_minflt)


def matmul_seconds(m, k, n, dtype, reps):
    """Median seconds of one numpy (m, k) @ (k, n) into a preallocated output: {"wall": .., "cpu": ..}."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    np.matmul(a, b, out=out)
    t0 = time.perf_counter()
    np.matmul(a, b, out=out)
    inner = max(1, int(2e-3 / max(time.perf_counter() - t0, 1e-7)))   # ~2 ms per sample
    samples = {"wall": [], "cpu": []}
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(inner):
            np.matmul(a, b, out=out)
        samples["wall"].append((time.perf_counter() - w0) / inner)
        samples["cpu"].append((time.process_time() - c0) / inner)
    return {clock: statistics.median(v) for clock, v in samples.items()}


def bptt_products(family, B, T, D, H, K):
    """(label, m, k, n, count): every matrix product of one forward + backward."""
    G = 1 if family == "rnn" else 4                       # the LSTM's four gates
    return [("input projection", T * B, D, G * H, 1),
            ("step fwd h W^T", B, H, G * H, T),
            ("step bwd da W", B, G * H, H, T),
            ("dW_k", G * H, math.ceil(T / K) * B, H, K),
            ("dWx", G * H, T * B, D, 1),
            ("dx", T * B, G * H, D, 1)]


def blas_bound(products, dtype, reps, cache):
    """Lower-bound seconds, {"wall": .., "cpu": ..}: each product at its own measured speed, the
    faster of A B and its transpose B^T A^T (the same FLOPs; OpenBLAS is not equally fast at both).
    Also the FLOP count."""
    seconds, flops = dict.fromkeys(CLOCKS, 0.0), 0.0
    for _label, m, k, n, count in products:
        timed = []
        for shape in ((m, k, n), (n, k, m)):
            key = (*shape, np.dtype(dtype).name)
            if key not in cache:
                cache[key] = matmul_seconds(*shape, dtype, reps)
            timed.append(cache[key])
        for clock in CLOCKS:
            seconds[clock] += count * min(t[clock] for t in timed)
        flops += count * 2.0 * m * k * n
    return seconds, flops


def python_seconds(family, name, T, D, dtype, reps, blas_cache, clock_name):
    """Python's and numpy's per-call cost of one forward + backward over T steps: the same call at
    B = 1, H = 1, where the arithmetic is nearly nothing, minus that size's own BLAS bound."""
    layer = make_layer(family, name, D, 1, dtype)
    rng = np.random.default_rng(SEED)
    run = numrnn_contender(layer, rng.standard_normal((1, T, D)).astype(dtype),
                           rng.standard_normal((1, T, 1)).astype(dtype))
    run()
    clock, samples = CLOCKS[clock_name], []
    with gc_paused():
        for _ in range(reps):
            t0 = clock()
            run()
            samples.append(clock() - t0)
    tiny_bound, _ = blas_bound(bptt_products(family, 1, T, D, 1, layer.n_matrices), dtype, reps,
                               blas_cache)
    return max(0.0, statistics.median(samples) - tiny_bound[clock_name])


def breakdown(total, bound, python, kernel):
    """numrnn's seconds split into BLAS (the bound), Python, kernel (page faults) and the rest."""
    return {"blas": bound, "python": python, "kernel": kernel,
            "rest": total - bound - python - kernel}


def format_breakdown(b):
    total = sum(b.values())
    return "  ".join(f"{label} {1e3 * b[key]:6.2f} ms ({100 * b[key] / total:3.0f}%)"
                     for key, label in (("blas", "BLAS"), ("python", "Python"), ("kernel", "kernel"),
                                        ("rest", "elementwise+rest")))


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


# ----------------------------------------------------------------------------- the machine
def machine_info(torch, threads):
    info = {"date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None), "threads": threads,
            "torch_threads": torch.get_num_threads() if torch else None,
            "torch_interop_threads": torch.get_num_interop_threads() if torch else None,
            "cpu": _lscpu(),
            "env": {k: v for k, v in os.environ.items()
                    if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO", "BLIS", "NPY_", "ATEN_", "ONEDNN_",
                                     "NUMRNN_"))},
            "blas": [{k: d.get(k) for k in ("internal_api", "version", "architecture",
                                            "num_threads", "threading_layer", "filepath")}
                     for d in threadpool_info()],
            "git": _git_head(),
            "numpy_cpu": numpy_cpu_info(),
            "torch_cpu_capability": _torch_capability(torch),
            "gate_path": activations.GATE_PATH, "gate_path_reason": activations.GATE_PATH_REASON,
            "host_kind": os.environ.get(HOST_KIND_ENV, "native")}
    return info


def numpy_cpu_info():
    """numpy's CPU features: the AVX-512 ones it may use, its dispatch targets, and what is disabled."""
    from numpy._core import _multiarray_umath as umath
    features = umath.__cpu_features__
    return {"avx512_enabled": sorted(k for k, v in features.items() if v and ("512" in k or k == "X86_V4")),
            "AVX512_SKX": bool(features.get("AVX512_SKX")), "AVX2": bool(features.get("AVX2")),
            "baseline": list(umath.__cpu_baseline__), "dispatch": list(umath.__cpu_dispatch__),
            "dispatch_enabled": [t for t in umath.__cpu_dispatch__ if features.get(t)],
            "NPY_DISABLE_CPU_FEATURES": os.environ.get("NPY_DISABLE_CPU_FEATURES")}


def _torch_capability(torch):
    if torch is None:
        return None
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        return None


def emulation_env(environ=None):
    """The environment of an AVX2 host (no AVX-512) on an AVX-512 one: numpy's AVX-512 dispatch
    targets off, OpenBLAS's Haswell kernel, torch's AVX2 kernels. Threads are left as they are."""
    from numpy._core import _multiarray_umath as umath
    avx512_targets = [t for t in umath.__cpu_dispatch__ if "512" in t or t == "X86_V4"]
    return {**(os.environ if environ is None else environ),
            "NPY_DISABLE_CPU_FEATURES": " ".join(avx512_targets), "OPENBLAS_CORETYPE": "Haswell",
            "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            HOST_KIND_ENV: EMULATED_KIND}


def emulation_problems(info):
    """What of the AVX2 emulation did not take effect in this process (empty: all of it did)."""
    problems = []
    avx512_targets = [t for t in info["numpy_cpu"]["dispatch_enabled"] if "512" in t or t == "X86_V4"]
    if info["numpy_cpu"]["AVX512_SKX"] or avx512_targets:
        problems.append(f"numpy still dispatches AVX-512 loops ({avx512_targets}, AVX512_SKX "
                        f"{info['numpy_cpu']['AVX512_SKX']})")
    kernels = [lib["architecture"] for lib in info["blas"] if lib["internal_api"] == "openblas"]
    if any(k != "Haswell" for k in kernels):
        problems.append(f"OpenBLAS kernel {kernels}, not Haswell")
    if info["torch"] and (info["torch_cpu_capability"] or "").upper() not in ("AVX2", "DEFAULT"):
        problems.append(f"torch CPU capability {info['torch_cpu_capability']}, not AVX2")
    if info["gate_path"] != "exp" and not os.environ.get(activations.GATE_PATH_ENV):
        problems.append(f"numrnn's gate path is {info['gate_path']}, not the AVX2 host's exp")
    return problems


def host_lines(info):
    """The header lines that name the kind of host, what numpy and the BLAS dispatch, numrnn's path."""
    cpu = info["numpy_cpu"]
    kind = ("EMULATED AVX2 host (an AVX-512 CPU with AVX-512 turned off for numpy, OpenBLAS and torch; "
            "not checked against a real AVX2 host in this run)" if info["host_kind"] == EMULATED_KIND
            else "native")
    return [f"host kind: {kind}",
            f"numpy __cpu_features__: AVX2 {cpu['AVX2']}, AVX512_SKX {cpu['AVX512_SKX']}; numpy's dispatch "
            f"targets {' '.join(cpu['dispatch'])}, of which enabled: "
            f"{' '.join(cpu['dispatch_enabled']) or 'none'}"
            f" (NPY_DISABLE_CPU_FEATURES={cpu['NPY_DISABLE_CPU_FEATURES']})",
            f"numpy AVX-512 features True in __cpu_features__ (the CPU has them; numpy's loops use them "
            f"only through the enabled targets): {' '.join(cpu['avx512_enabled']) or 'none'}",
            f"torch CPU capability: {info['torch_cpu_capability']}",
            f"numrnn gate path: {info['gate_path']} ({info['gate_path_reason']})"]


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
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "numrnn"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (numrnn/ modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


class LoadWatch:
    """The 1-minute load average at the start, after every row and at the end, against a limit."""

    def __init__(self, limit):
        self.limit, self.samples = limit, [("start", os.getloadavg()[0])]

    def sample(self, when):
        self.samples.append((when, os.getloadavg()[0]))

    @property
    def start(self):
        return self.samples[0][1]

    @property
    def end(self):
        return self.samples[-1][1]

    @property
    def highest(self):
        return max(self.samples, key=lambda s: s[1])

    def busy_reasons(self):
        over = [load for _when, load in self.samples if load > self.limit]
        return [f"1-minute load above {self.limit:g} at {len(over)} of {len(self.samples)} readings: "
                + self.describe()] if over else []

    def describe(self):
        when, load = self.highest
        return f"load average start {self.start:.2f}, highest {load:.2f} ({when}), end {self.end:.2f}"


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


# ----------------------------------------------------------------------------- the run
def bench_row(family, name, config, dtype, torch, args, blas_cache):
    B, T, D, H = config
    rng = np.random.default_rng(SEED)
    layer = make_layer(family, name, D, H, dtype)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    dhs = rng.standard_normal((B, T, H)).astype(dtype)
    contenders = {"numrnn": numrnn_contender(layer, x, dhs)}
    if torch is not None:
        contenders["eager"] = eager_contender(torch, family, layer, x, dhs)
        if layer.n_matrices == 1 and layer.skip < 2:
            contenders[FUSED[family]] = fused_contender(torch, family, layer, x, dhs)
    reference = contenders["numrnn"]()
    if not np.all(np.isfinite(reference[0])):
        raise RuntimeError(f"{family} {name} {config}: activations are not finite; lower SCALE")
    agree = max([disagreement(reference, run()) for n, run in contenders.items() if n != "numrnn"],
                default=0.0)
    timed = time_interleaved(contenders, args.reps, args.warmup)
    bounds, flops = blas_bound(bptt_products(family, B, T, D, H, layer.n_matrices), dtype,
                               args.blas_reps, blas_cache)
    bound = bounds[args.clock]
    seconds = {n: t[args.clock] for n, t in timed.items()}
    python = python_seconds(family, name, T, D, dtype, args.reps, blas_cache, args.clock)
    peak = peak_bytes(contenders["numrnn"])
    keep = must_keep_bytes(family, layer, B, T)
    return {"layer": f"{family.upper()} {name}", "B": B, "T": T, "D": D, "H": H,
            "dtype": np.dtype(dtype).name, "clock": args.clock, "seconds": seconds,
            "wall_s": {n: t["wall"] for n, t in timed.items()},
            "cpu_s": {n: t["cpu"] for n, t in timed.items()},
            "sys_s": {n: t["sys"] for n, t in timed.items()},
            "minor_faults": {n: t["minflt"] for n, t in timed.items()},
            "bound_s": bound, "bound_by_clock": bounds, "gflop": flops / 1e9,
            "peak_bytes": peak, "keep_bytes": keep,
            "max_rel_diff": agree, "agrees": agree <= AGREE[np.dtype(dtype).name],
            "breakdown_s": breakdown(seconds["numrnn"], bound, python, timed["numrnn"]["sys"])}


def fused_name(r):
    return next((n for n in FUSED.values() if n in r["seconds"]), None)


def format_row(r, peak_gflops):
    w, c = r["seconds"], r["cpu_s"] if r["clock"] == "wall" else r["wall_s"]
    fused = fused_name(r)
    ms = lambda n: f"{1e3 * w[n]:8.2f} {1e3 * c[n]:7.2f}" if n in w else f"{'-':>8} {'-':>7}"  # noqa: E731
    ratio = lambda n: f"{w['numrnn'] / w[n]:6.2f}" if n in w else f"{'-':>6}"   # noqa: E731
    times_bound = "/".join(f"{w[n] / r['bound_s']:.1f}" for n in ("numrnn", "eager", fused) if n in w)
    return (f"{r['layer']:<7}{r['B']:>4}{r['T']:>4}{r['D']:>3}{r['H']:>4} {r['dtype']:<8}"
            f"{ms('numrnn')}{ms('eager')}{ms(fused)}  {ratio('eager')} {ratio(fused)}"
            f"{r['gflop']:7.3f}{1e3 * r['bound_s']:8.2f}{1e3 * r['gflop'] / peak_gflops[r['dtype']]:7.2f}"
            f"  {times_bound:<15}{r['peak_bytes'] / 2**20:7.1f}{r['keep_bytes'] / 2**20:7.1f}"
            f"{r['peak_bytes'] / r['keep_bytes']:6.2f}  {r['max_rel_diff']:.1e}"
            + ("" if r["agrees"] else "  DISAGREE"))


def header(clock):
    other = "cpu" if clock == "wall" else "wall"
    return ("layer     B   T  D   H dtype    --- numrnn ---  ---- eager ----  - nn.RNN/LSTM -  /eager  /nn."
            "  GFLOP  bound  bpeak  x bound         peakMB keepMB  mem   agree\n"
            f"                               {clock:>5} ms {other:>4} ms {clock:>5} ms {other:>4} ms "
            f"{clock:>5} ms {other:>4} ms                      ms     ms  nr/eager/nn.")


def geomean(values):
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def summary(rows, clock):
    """The ratios the targets are about in one clock's time, over the rows that have each contender."""
    def sec(r):
        return r[f"{clock}_s"]

    def ratios(contender, of="numrnn"):
        return [(r["bound_by_clock"][clock] if of == "bound" else sec(r)[of]) / sec(r)[contender]
                for r in rows if contender in sec(r)]
    times_bound = [sec(r)["numrnn"] / r["bound_by_clock"][clock] for r in rows]
    worst_bound = rows[times_bound.index(max(times_bound))]
    worst_mem = max(rows, key=lambda r: r["peak_bytes"] / r["keep_bytes"])
    s = {"clock": clock}
    for contender, key in (("eager", "eager"), ("nn.RNN", "nn_rnn"), ("nn.LSTM", "nn_lstm")):
        values = ratios(contender)
        s[f"geomean_numrnn_over_{key}"] = geomean(values)
        s[f"worst_numrnn_over_{key}"] = max(values, default=float("nan"))
        s[f"geomean_bound_over_{key}"] = geomean(ratios(contender, of="bound"))  # numrnn at its bound
        s[f"n_{key}"] = len(values)
    s.update(worst_times_bound=max(times_bound), worst_times_bound_row=_row_name(worst_bound),
             rows_over_bound=[_row_name(r) for r, v in zip(rows, times_bound) if v > TARGETS["x_bound"]],
             worst_memory_ratio=worst_mem["peak_bytes"] / worst_mem["keep_bytes"],
             worst_memory_row=_row_name(worst_mem),
             rows_disagreeing=[_row_name(r) for r in rows if not r["agrees"]],
             wall_over_cpu_numrnn=statistics.median(r["wall_s"]["numrnn"] / r["cpu_s"]["numrnn"]
                                                    for r in rows))
    return s


def summary_line(s, busy):
    return (f"SUMMARY ({s['clock']} clock{', BUSY' if busy else ''}) geomean numrnn/eager = "
            f"{s['geomean_numrnn_over_eager']:.2f} over {s['n_eager']} rows; "
            f"numrnn/nn.RNN = {s['geomean_numrnn_over_nn_rnn']:.2f} over {s['n_nn_rnn']} rows; "
            f"numrnn/nn.LSTM = {s['geomean_numrnn_over_nn_lstm']:.2f} over {s['n_nn_lstm']} rows; "
            f"worst x bound {s['worst_times_bound']:.2f} ({s['worst_times_bound_row']}); "
            f"worst memory {s['worst_memory_ratio']:.2f} x keep ({s['worst_memory_row']})")


def target_lines(s, rows):
    """The targets of issue 25 (issue 18's, tightened to hold on every kind of host), measured: one
    line each, met or missed (never asserted in tests)."""
    def verdict(value, target):
        return "n/a (no rows)" if math.isnan(value) else ("met" if value <= target else "MISSED")
    lines = ["TARGETS (ratios below 1: numrnn is faster)"]
    for contender, key, rows_are in (("eager", "eager", "all rows"), ("nn.RNN", "nn_rnn", "RNN A rows"),
                                     ("nn.LSTM", "nn_lstm", "LSTM A rows")):
        g, n = s[f"geomean_numrnn_over_{key}"], s[f"n_{key}"]
        lines.append(f"  geomean numrnn / {contender:<8} {g:6.3f} over {n:2d} {rows_are:<12} "
                     f"(worst row {s[f'worst_numrnn_over_{key}']:.2f})  target <= {TARGETS[contender]}: "
                     f"{verdict(g, TARGETS[contender])}; at its BLAS bound numrnn would be "
                     f"{s[f'geomean_bound_over_{key}']:.2f}")
    lstm_a = [r for r in rows if r["layer"] == "LSTM A" and "nn.LSTM" in r["seconds"]]
    high = [r for r in lstm_a if r["seconds"]["numrnn"] / r["seconds"]["nn.LSTM"] > TARGETS["lstm_a_row"]]
    if lstm_a:
        lines.append(f"  every LSTM A row numrnn / nn.LSTM <= {TARGETS['lstm_a_row']}: "
                     + ("met" if not high else "MISSED on " + ", ".join(
                         f"{_row_name(r)} ({r['seconds']['numrnn'] / r['seconds']['nn.LSTM']:.2f})"
                         for r in high)))
    over = s["rows_over_bound"]
    lines.append(f"  x BLAS bound: worst {s['worst_times_bound']:.2f} ({s['worst_times_bound_row']}), "
                 f"{len(over)} of {len(rows)} rows over {TARGETS['x_bound']}  target <= {TARGETS['x_bound']}: "
                 f"{verdict(s['worst_times_bound'], TARGETS['x_bound'])}")
    for r in rows:
        if _row_name(r) in over:
            lines.append(f"    {_row_name(r):<34} {r['seconds']['numrnn'] / r['bound_s']:.2f} x bound: "
                         + format_breakdown(r["breakdown_s"]))
    lines.append(f"  memory: worst peak {s['worst_memory_ratio']:.2f} x what BPTT keeps "
                 f"({s['worst_memory_row']})  target <= {TARGETS['memory']}: "
                 f"{verdict(s['worst_memory_ratio'], TARGETS['memory'])}")
    return lines


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
    p.add_argument("--layer", action="append",
                   choices=[f"{f}-{v}" for f in ("rnn", "lstm") for v in VERSIONS],
                   help="default: rnn-A, rnn-D, lstm-A, lstm-D")
    p.add_argument("--no-torch", action="store_true", help="numrnn and the BLAS bound only")
    p.add_argument("--clock", choices=list(CLOCKS), default="wall",
                   help="the clock of the ratios: wall (default) or cpu (process CPU time, with "
                        "--threads 1); the other is printed beside it")
    p.add_argument("--max-load", type=float,
                   help="1-minute load average above which the machine counts as busy "
                        "(default: threads + 0.5, i.e. nothing else running)")
    p.add_argument("--require-idle", action="store_true",
                   help="refuse to report (exit status 3, nothing saved) if the machine was busy")
    p.add_argument("--no-eager-check", action="store_true",
                   help="skip the profiler check that the eager contender's backward is O(T)")
    p.add_argument("--save", metavar="PREFIX", help="also write PREFIX.txt and PREFIX.json")
    p.add_argument("--host-kind", choices=["native", EMULATED_KIND], default="native",
                   help="native (default), or emulate-avx2: run in a child process that sees an AVX2 "
                        "host (numpy without AVX-512, OpenBLAS Haswell, torch AVX2), checked")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.warmup, args.blas_reps, args.peak_size = 3, 1, 3, 512
    if min(args.reps, args.blas_reps, args.threads, args.peak_size) < 1 or args.warmup < 0:
        p.error("--reps, --blas-reps, --threads and --peak-size must be >= 1, --warmup >= 0")
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
    if args.max_load is None:
        args.max_load = args.threads + 0.5
    return args


def run_emulated(argv):
    """Run this script again in a child process with :func:`emulation_env`; its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    child = subprocess.run([sys.executable, os.path.abspath(__file__), *argv], env=emulation_env())
    return child.returncode


def main(argv=None):
    args = parse_args(argv)
    if args.host_kind == EMULATED_KIND and os.environ.get(HOST_KIND_ENV) != EMULATED_KIND:
        raise SystemExit(run_emulated(argv))
    started = time.perf_counter()
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say("command: python benchmarks/bench_bptt.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    load = LoadWatch(args.max_load)
    if args.require_idle and load.busy_reasons():
        say(f"REFUSED: the machine is busy ({'; '.join(load.busy_reasons())}); nothing measured")
        raise SystemExit(3)
    torch = import_torch(args.no_torch, say)
    with threadpool_limits(limits=args.threads):
        if torch is not None:
            torch.set_num_threads(args.threads)
        info = machine_info(torch, args.threads)
        say(f"machine: {info['cpu']['model']}, {info['cpu']['cpus']} CPUs; python {info['python']}, "
            f"numpy {info['numpy']}, torch {info['torch']}; git {info['git']}; {info['date_utc']} UTC")
        say(f"threads: numpy BLAS {args.threads}, torch {info['torch_threads']} "
            f"(interop {info['torch_interop_threads']}); env {info['env'] or '{}'}")
        say(f"load average at start {load.start:.2f} (busy above {args.max_load:g})")
        for lib in info["blas"]:
            say(f"  {lib['internal_api']} {lib['version']} kernel={lib['architecture']} "
                f"threads={lib['num_threads']} ({os.path.basename(lib['filepath'])})")
        for line in host_lines(info):
            say(line)
        if info["host_kind"] == EMULATED_KIND and emulation_problems(info):
            say("EMULATION FAILED: " + "; ".join(emulation_problems(info)) + "; nothing measured")
            raise SystemExit(4)
        if torch is not None and not args.no_eager_check:
            for line in eager_check_lines(torch, sorted({f for f, _ in args.layer}), args.reps):
                say(line)
        n = args.peak_size
        peak = {dt: 2 * n**3 / matmul_seconds(n, n, n, dt, args.blas_reps)[args.clock] / 1e9
                for dt in args.dtype}
        say(f"numpy matmul at {n}^3: " + ", ".join(f"{dt} {g:.1f} GFLOP/s" for dt, g in peak.items()))
        say(f"timing: {args.clock} clock (the other beside it), median of {args.reps} after {args.warmup} "
            f"warm-up, forward + backward, contenders interleaved; seed {SEED}, init normal scale {SCALE}")
        say()
        header_at = len(lines)
        say(header(args.clock))
        rows, blas_cache = [], {}
        for family, name in args.layer:
            for config in args.config:
                for dt in args.dtype:
                    row = bench_row(family, name, config, np.dtype(dt).type, torch, args, blas_cache)
                    rows.append(row)
                    say(format_row(row, peak))
                    load.sample(f"after {_row_name(row)}")
        say()
        say(f"where numrnn's time goes ({args.clock} clock): BLAS = the bound; Python = the same call at "
            "B = H = 1; kernel = system time (page faults of fresh arrays); elementwise+rest = what is left")
        for r in rows:
            say(f"  {_row_name(r):<34} {1e3 * r['seconds']['numrnn']:8.2f} ms = "
                + format_breakdown(r["breakdown_s"]) + f"; {r['minor_faults']['numrnn']:.0f} page faults")
        say()
        say("matmul speed at the loop's shapes (GFLOP/s): " + "; ".join(
            f"{m}x{k}x{n} {dt} {2 * m * k * n / s[args.clock] / 1e9:.1f}"
            for (m, k, n, dt), s in blas_cache.items()))
    other = "cpu" if args.clock == "wall" else "wall"
    s, s_other = summary(rows, args.clock), summary(rows, other)
    load.sample("at end")
    busy = load.busy_reasons()
    info.update(loadavg=load.samples, busy=bool(busy), busy_reasons=busy,
                minutes=(time.perf_counter() - started) / 60)
    s["busy"] = bool(busy)
    say(f"{load.describe()}; median wall/cpu of numrnn {s['wall_over_cpu_numrnn']:.2f} "
        "(above ~1.05 the process waited for a core)")
    if s["rows_disagreeing"]:
        say(f"DISAGREE: the contenders compute different numbers on {s['rows_disagreeing']}")
    if busy:
        banner = (f"BUSY: the machine was busy during this run ({'; '.join(busy)}): the times are "
                  "not a clean measurement; rerun on an idle machine")
        if args.require_idle:
            say(f"REFUSED (--require-idle): {banner}; nothing saved")
            raise SystemExit(3)
        say(banner)
        lines.insert(0, banner)
        lines[header_at + 1] = lines[header_at + 1].replace("\n", "   [BUSY]\n", 1)
    for line in target_lines(s, rows):
        say(line)
    say(f"run took {info['minutes']:.1f} min")
    say(summary_line(s_other, busy))
    say(summary_line(s, busy))
    if args.save:
        _write_atomic(args.save + ".txt", "\n".join(lines) + "\n")
        _write_atomic(args.save + ".json", json.dumps(
            {"args": {k: v for k, v in vars(args).items()}, "machine": info, "peak_gflops": peak,
             "blas_seconds": {"x".join(map(str, k)): v for k, v in blas_cache.items()},
             "rows": rows, "summary": s, f"summary_{other}_clock": s_other}, indent=1, default=str) + "\n")
    return rows, s


def _write_atomic(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
