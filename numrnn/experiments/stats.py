r"""Small-sample tests for comparisons over seeds, in NumPy alone: paired (by seed) and two-sample.

Paired, on the differences :math:`d_i = a_i - b_i` of one seed's two runs (e.g. log test MSE of D
and of a parameter-matched C trained on the same data and batch order):

- :func:`sign_flip_test`: under "no difference" each :math:`d_i` is as likely :math:`-d_i`; the
  p-value is the share of the :math:`2^n` sign patterns whose mean is at least as far from 0 as the
  one seen (all patterns for n <= 20, else a seeded Monte-Carlo sample of them).
- :func:`wilcoxon_signed_rank`: the same idea on the ranks of :math:`|d_i|`,
  :math:`W^+ = \sum_{d_i > 0} \operatorname{rank}|d_i|`, its exact null distribution counted by
  dynamic programming (ties get average ranks, zeros are dropped).
- :func:`paired_t`: :math:`t = \bar d / (s_d / \sqrt n)` with n - 1 degrees of freedom.
- :func:`bootstrap_ci`: a percentile interval for the mean difference (seeded resampling).

Two-sample (e.g. test accuracies of two models over seeds, not paired): :func:`welch_t` and
:func:`permutation_test` (all splits when there are at most 200,000, else a seeded sample).

Many comparisons at once: :func:`holm` adjusts their p-values (Holm 1979, step-down), so that
"adjusted p < 0.05" keeps the chance of any false "significant" among them at or below 5 %.

The Student t tail comes from the regularised incomplete beta function,
:math:`P(|T| > t) = I_{\nu / (\nu + t^2)}(\nu / 2, 1 / 2)`.
"""
import math
from itertools import combinations

import numpy as np

EXACT_LIMIT = 200_000          # enumerate every permutation / sign pattern up to this many


def _vector(name, values):
    a = np.asarray(values, dtype=float).ravel()
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or inf; compare finite values (e.g. drop diverged runs and say so)")
    return a


def _betacf(a, b, x, iters=300, eps=3e-16):
    """Continued fraction of the incomplete beta function (Lentz's method)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, iters + 1):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a, b, x):
    r"""The regularised incomplete beta function :math:`I_x(a, b)` for a, b > 0, x in [0, 1]."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
                     + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t, df):
    """P(abs(T) >= abs(t)) for Student's t with ``df`` > 0 degrees of freedom."""
    if not df > 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if not np.isfinite(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def paired_t(d):
    """Paired t-test on differences ``d``: {"t", "df", "p"} (p two-sided; nan t if all d equal)."""
    d = _vector("differences", d)
    n = d.size
    if n < 2:
        raise ValueError("a paired t-test needs at least 2 pairs")
    sd = d.std(ddof=1)
    if sd == 0:
        return {"t": float("nan") if d.mean() == 0 else math.copysign(math.inf, d.mean()),
                "df": n - 1, "p": 1.0 if d.mean() == 0 else 0.0}
    t = d.mean() / (sd / math.sqrt(n))
    return {"t": float(t), "df": n - 1, "p": float(t_two_sided_p(t, n - 1))}


def welch_t(a, b):
    """Welch's t-test for mean(a) - mean(b), unequal variances: {"t", "df", "p"}."""
    a, b = _vector("a", a), _vector("b", b)
    if a.size < 2 or b.size < 2:
        raise ValueError("Welch's t-test needs at least 2 values in each group")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = a.mean() - b.mean()
    if va + vb == 0:
        return {"t": float("nan") if diff == 0 else math.copysign(math.inf, diff), "df": float("nan"),
                "p": 1.0 if diff == 0 else 0.0}
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    return {"t": float(t), "df": float(df), "p": float(t_two_sided_p(t, df))}


def _sign_patterns(n, n_resamples, rng):
    """(m, n) array of +-1: every pattern when 2^n <= EXACT_LIMIT (exact=True), else a sample."""
    if 2 ** n <= EXACT_LIMIT:
        bits = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
        return 1 - 2 * bits, True
    return rng.choice((-1, 1), size=(n_resamples, n)), False


def sign_flip_test(d, n_resamples=100_000, seed=0):
    """Paired permutation test of mean(d) = 0: {"p", "exact", "n"} (two-sided).

    Exact (every sign pattern) for n <= 17, else ``n_resamples`` patterns drawn with ``seed``, the
    p-value then (1 + hits) / (1 + n_resamples) so that it is never 0.
    """
    d = _vector("differences", d)
    signs, exact = _sign_patterns(d.size, n_resamples, np.random.default_rng(seed))
    seen = abs(d.mean())
    means = np.abs(signs @ d) / d.size
    hits = int(np.sum(means >= seen * (1 - 1e-12)))
    p = hits / len(signs) if exact else (1 + hits) / (1 + len(signs))
    return {"p": float(p), "exact": exact, "n": int(d.size)}


def signed_ranks(d):
    """Ranks of abs(d) (average ranks for ties) of the nonzero d, and their signs."""
    d = _vector("differences", d)
    d = d[d != 0]
    order = np.argsort(np.abs(d), kind="mergesort")
    ranks = np.empty(d.size)
    absd = np.abs(d)[order]
    i = 0
    while i < d.size:
        j = i
        while j + 1 < d.size and absd[j + 1] == absd[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks, np.sign(d)


def wilcoxon_signed_rank(d):
    """Wilcoxon signed-rank test of "d symmetric about 0": {"w_plus", "n", "p"} (two-sided, exact).

    The null distribution of W+ (each rank's sign a fair coin) is counted exactly over doubled ranks
    (integers even with average ranks for ties); zeros are dropped (n counts the rest).
    """
    ranks, signs = signed_ranks(d)
    n = ranks.size
    if n == 0:
        return {"w_plus": 0.0, "n": 0, "p": 1.0}
    w_plus = float(ranks[signs > 0].sum())
    doubled = np.rint(2 * ranks).astype(int)
    counts = np.zeros(doubled.sum() + 1)
    counts[0] = 1.0
    for r in doubled:                       # counts[k]: sign patterns with 2 W+ = k
        counts[r:] = counts[r:] + counts[:-r].copy() if r else counts[r:]
    probs = counts / 2.0 ** n
    k = int(round(2 * w_plus))
    mean = doubled.sum() / 2
    dev = abs(k - mean)
    values = np.arange(counts.size)
    p = probs[np.abs(values - mean) >= dev - 1e-9].sum()
    return {"w_plus": w_plus, "n": int(n), "p": float(min(1.0, p))}


def bootstrap_ci(values, level=0.95, n_resamples=20_000, seed=0, statistic=np.mean):
    """Percentile bootstrap interval of ``statistic`` (default the mean): (low, high)."""
    values = _vector("values", values)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_resamples, values.size))
    stats = statistic(values[idx], axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(low), float(high)


def permutation_test(a, b, n_resamples=100_000, seed=0):
    """Two-sample permutation test of mean(a) = mean(b): {"p", "exact", "diff"} (two-sided).

    Every split of the pooled values into groups of len(a) and len(b) when there are at most
    :data:`EXACT_LIMIT`, else ``n_resamples`` random splits drawn with ``seed``.
    """
    a, b = _vector("a", a), _vector("b", b)
    pooled, n_a = np.concatenate([a, b]), a.size
    total = pooled.sum()
    seen = abs(a.mean() - b.mean())
    if math.comb(pooled.size, n_a) <= EXACT_LIMIT:
        sums = np.array([pooled[list(c)].sum() for c in combinations(range(pooled.size), n_a)])
        exact = True
    else:
        rng = np.random.default_rng(seed)
        sums = np.array([pooled[rng.permutation(pooled.size)[:n_a]].sum() for _ in range(n_resamples)])
        exact = False
    diffs = np.abs(sums / n_a - (total - sums) / b.size)
    hits = int(np.sum(diffs >= seen * (1 - 1e-12)))
    p = hits / sums.size if exact else (1 + hits) / (1 + sums.size)
    return {"p": float(p), "exact": exact, "diff": float(a.mean() - b.mean())}


def compare_paired(a, b, log=True, level=0.95, seed=0):
    """Everything the README states about a paired comparison of ``a`` against ``b`` (same seeds).

    With ``log`` the differences are of natural logs (for MSEs: a ratio), reported also as the
    geometric-mean ratio a / b and its interval. Returns a dict: n, wins (a < b), mean difference,
    its bootstrap interval, the ratio and its interval (log only), and the p-values of the
    sign-flip, Wilcoxon and paired t tests.
    """
    a, b = _vector("a", a), _vector("b", b)
    if a.size != b.size:
        raise ValueError(f"paired values need equal lengths, got {a.size} and {b.size}")
    d = np.log(a) - np.log(b) if log else a - b
    low, high = bootstrap_ci(d, level=level, seed=seed)
    out = {"n": int(d.size), "a_lower": int(np.sum(a < b)), "mean_difference": float(d.mean()),
           "ci": [low, high], "level": level, "log": log,
           "sign_flip_p": sign_flip_test(d, seed=seed)["p"], "wilcoxon_p": wilcoxon_signed_rank(d)["p"],
           "paired_t_p": paired_t(d)["p"]}
    if log:
        out.update(ratio=float(np.exp(d.mean())), ratio_ci=[float(np.exp(low)), float(np.exp(high))])
    return out


# ------------------------------------------------------------------ the README's SST comparisons
def t_quantile(level, df):
    """The t with P(abs(T) <= t) = ``level`` for Student's t with ``df`` degrees of freedom (bisection
    on :func:`t_two_sided_p`)."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > 1 - level:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if t_two_sided_p(mid, df) > 1 - level else (low, mid)
    return (low + high) / 2


def welch_interval(a, b, level=0.95):
    """Welch's interval for mean(a) - mean(b): (low, high), with Welch's degrees of freedom."""
    a, b = _vector("a", a), _vector("b", b)
    w = welch_t(a, b)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    if se == 0:
        diff = float(a.mean() - b.mean())
        return diff, diff
    half = t_quantile(level, w["df"]) * se
    diff = a.mean() - b.mean()
    return float(diff - half), float(diff + half)


def holm(p_values):
    r"""Holm's step-down adjustment of m p-values for testing them together.

    With the p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`, the adjusted
    :math:`\tilde p_{(k)} = \max_{j \le k} \min\big(1, (m - j + 1)\, p_{(j)}\big)`; rejecting
    where :math:`\tilde p < \alpha` keeps the family-wise error rate at or below :math:`\alpha`.

    Parameters
    ----------
    p_values : sequence of float in [0, 1], shape (m,)

    Returns
    -------
    ndarray, shape (m,): the adjusted p-values, in the order given
    """
    p = _vector("p_values", p_values)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p_values must lie in [0, 1], got {p.min():g}..{p.max():g}")
    m, order = len(p), np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


#: (label, first, second) for each comparison the README draws; a side is (file, cell, version, reg),
#: version "best-skip" (of C, D) or "best" (of A-D): the row of that cell with the highest mean.
SST_COMPARISONS = [
    ("phrases: skip helps the RNN? C vs A", ("phrases", "rnn", "C", "reg"), ("phrases", "rnn", "A", "reg")),
    ("phrases: skip helps the RNN? D vs B", ("phrases", "rnn", "D", "reg"), ("phrases", "rnn", "B", "reg")),
    ("phrases: skip helps the LSTM? C vs A", ("phrases", "lstm", "C", "reg"), ("phrases", "lstm", "A", "reg")),
    ("phrases: skip helps the LSTM? D vs B", ("phrases", "lstm", "D", "reg"), ("phrases", "lstm", "B", "reg")),
    ("phrases: best skip RNN vs best LSTM", ("phrases", "rnn", "best-skip", "reg"),
     ("phrases", "lstm", "best", "reg")),
    ("phrases: best RNN vs best LSTM", ("phrases", "rnn", "best", "reg"), ("phrases", "lstm", "best", "reg")),
    ("phrases: RNN C vs LSTM A (one matrix, S = 2 and none)", ("phrases", "rnn", "C", "reg"),
     ("phrases", "lstm", "A", "reg")),
    ("phrases: RNN D vs LSTM B (two matrices, S = 2 and none)", ("phrases", "rnn", "D", "reg"),
     ("phrases", "lstm", "B", "reg")),
    ("sentences: skip helps the RNN? C vs A", ("sentences", "rnn", "C", "reg"), ("sentences", "rnn", "A", "reg")),
    ("sentences: skip helps the RNN? D vs B", ("sentences", "rnn", "D", "reg"), ("sentences", "rnn", "B", "reg")),
    ("sentences: skip helps the LSTM? C vs A", ("sentences", "lstm", "C", "reg"),
     ("sentences", "lstm", "A", "reg")),
    ("sentences: skip helps the LSTM? D vs B", ("sentences", "lstm", "D", "reg"),
     ("sentences", "lstm", "B", "reg")),
    ("sentences: best skip RNN vs best LSTM", ("sentences", "rnn", "best-skip", "reg"),
     ("sentences", "lstm", "best", "reg")),
]
#: The RNTN's published 45.7 % (Socher et al. 2013), which the phrase-trained LSTMs are compared with.
RNTN = 45.7
#: The version without the skip that has the same matrices: C -> A, D -> B.
NO_SKIP = {"C": "A", "D": "B"}


def _sst_accuracies(report, cell, version, reg):
    """Test accuracies (%) of one row of an SST report, by seed, from the runs' names and configs;
    version "best-skip" / "best": the row of C, D / of A-D with the highest mean (None if none)."""
    if version in ("best-skip", "best"):
        rows = {v: _sst_accuracies(report, cell, v, reg) for v in ("CD" if version == "best-skip" else "ABCD")}
        rows = {v: acc for v, acc in rows.items() if acc}
        if not rows:
            return {}
        best = max(rows, key=lambda v: np.mean(list(rows[v].values())))
        return {"version": f"{cell.upper()} {best}", **rows[best]}
    out = {}
    for r in report["runs"]:
        c = r["config"]
        is_reg = "-noreg-" not in r["name"] and (c.get("dropout", 0) > 0 or c.get("weight_decay", 0) > 0)
        if c["cell"] == cell and c["version"] == version and is_reg == (reg == "reg") \
                and not c.get("bidirectional") and c.get("pool", "last") == "last":
            out[c["seed"]] = 100 * r["test_acc"]
    return out


def _rows_of(report):
    """{(cell, version): (hidden size, recurrent parameters, skip scale)} of a report's regularised
    rows; the skip scale is a string, "learned from X" when the runs trained it."""
    rows = {}
    for r in report["runs"]:
        c = r["config"]
        options = c.get("options") or {}
        alpha = f"{options.get('skip_scale', 1.0):g}"
        if options.get("learn_skip_scale"):
            alpha = f"learned from {alpha}"
        rows[(c["cell"], c["version"])] = (c.get("hidden_size"), (r.get("n_params_parts") or {}).get("recurrent"),
                                           alpha)
    return rows


def extra_comparisons(phrases, sized=None, alphas=()):
    """The comparisons of the extra phrase-level rows: an RNN sized to an LSTM's parameter count
    (``sized``, a report) against LSTM A, LSTM B and its own version at the grid's size; the
    scaled-skip rows (``alphas``, reports whose runs set ``skip_scale``) against the same version at
    alpha 1 and the version without the skip. Returns (label, a, b) with a, b accuracy dicts."""
    out = []
    if sized is not None:
        for (cell, version), (hidden, params, _) in sorted(_rows_of(sized).items()):
            a = _sst_accuracies(sized, cell, version, "reg")
            name = f"{cell.upper()} {version} H={hidden} ({params:,} rec. params)"
            for other in ("A", "B"):
                lstm = _sst_accuracies(phrases, "lstm", other, "reg")
                out.append((f"phrases, sized: {name} vs LSTM {other}", a, lstm))
            out.append((f"phrases, sized: {name} vs {cell.upper()} {version} H=100",
                         a, _sst_accuracies(phrases, cell, version, "reg")))
    for report in alphas:
        for (cell, version), (_, _, alpha) in sorted(_rows_of(report).items()):
            a = _sst_accuracies(report, cell, version, "reg")
            name = f"{cell.upper()} {version} alpha {alpha}"
            out.append((f"phrases, scaled skip: {name} vs alpha 1", a,
                         _sst_accuracies(phrases, cell, version, "reg")))
            if version in NO_SKIP:
                out.append((f"phrases, scaled skip: {name} vs {cell.upper()} {NO_SKIP[version]} (no skip)", a,
                            _sst_accuracies(phrases, cell, NO_SKIP[version], "reg")))
    return out


def _test_row(label, a, b, level=0.95):
    """One comparison: (the table row's cells up to the permutation p, Welch's p); None if a side
    has fewer than 2 seeds."""
    va, vb = a.pop("version", None), b.pop("version", None)
    if len(a) < 2 or len(b) < 2:
        return None
    if va or vb:
        label += " (" + " vs ".join(v for v in (va, vb) if v) + ")"
    xa, xb = [a[k] for k in sorted(a)], [b[k] for k in sorted(b)]
    w, p = welch_t(xa, xb), permutation_test(xa, xb)
    low, high = welch_interval(xa, xb, level)
    return (f"| {label} | {np.mean(xa):.1f} ({','.join(map(str, sorted(a)))}) "
            f"| {np.mean(xb):.1f} ({','.join(map(str, sorted(b)))}) "
            f"| {p['diff']:+.1f} | {low:+.1f} to {high:+.1f} | {w['p']:.2g} | {p['p']:.2g} |"), w["p"]


def sst_tests(phrases, sentences, sized=None, alphas=()):
    """A markdown table: every SST comparison of the README with Welch's t (p and 95 % interval of
    the difference) and an exact permutation test over seeds; the extra phrase-level rows
    (:func:`extra_comparisons`); and the phrase-trained LSTMs against the RNTN's 45.7 % (one-sample t)."""
    files = {"phrases": phrases, "sentences": sentences}
    pairs = [(label, _sst_accuracies(files[first[0]], *first[1:]), _sst_accuracies(files[second[0]], *second[1:]))
             for label, first, second in SST_COMPARISONS]
    rows, skipped = [], []
    for label, a, b in pairs + extra_comparisons(phrases, sized, alphas):
        row = _test_row(label, dict(a), dict(b))
        if row is None:
            skipped.append(label)
        else:
            rows.append(row)
    lines = ["| comparison | first (seeds) | second (seeds) | difference, points | 95 % interval (Welch) "
             f"| Welch t p | permutation p (exact) | Welch p, Holm-adjusted over the {len(rows)} rows |",
             "|---|---|---|---:|---|---:|---:|---:|"]
    adjusted = holm([p for _, p in rows]) if rows else []
    lines += [f"{cells} {p_holm:.2g} |" for (cells, _), p_holm in zip(rows, adjusted)]
    if skipped:
        lines += ["", "Not tested (fewer than 2 seeds on a side): " + "; ".join(skipped) + "."]
    lines += ["", f"Against the RNTN's {RNTN} % (one-sample t over seeds, two-sided, with the 95 % "
              "interval of the mean):", ""]
    for version in ("A", "B"):
        acc = [v for _, v in sorted(_sst_accuracies(phrases, "lstm", version, "reg").items())]
        if len(acc) >= 2:
            t = paired_t(np.array(acc) - RNTN)
            half = t_quantile(0.95, len(acc) - 1) * np.std(acc, ddof=1) / math.sqrt(len(acc))
            lines.append(f"- LSTM {version}, phrases: mean {np.mean(acc):.1f} over {len(acc)} seeds "
                         f"(95 % interval {np.mean(acc) - half:.1f} to {np.mean(acc) + half:.1f}), "
                         f"{np.mean(acc) - RNTN:+.1f} points, p = {t['p']:.2g}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """``python -m numrnn.experiments.stats PHRASES.json SENTENCES.json OUT.md [--sized R.json]
    [--alpha R.json ...]``: the SST tests."""
    import argparse
    import json
    import sys

    from .._io import atomic_write_text
    from .common import environment, environment_line

    parser = argparse.ArgumentParser(prog="python -m numrnn.experiments.stats",
                                     description="Significance tests for the README's SST comparisons.")
    parser.add_argument("phrases", help="the phrase-level report, e.g. results/sst_phrases.json")
    parser.add_argument("sentences", help="the sentence-level report, e.g. results/sst.json")
    parser.add_argument("out", help="the markdown file to write, e.g. results/sst_tests.md")
    parser.add_argument("--sized", default=None,
                        help="a phrase-level report of an RNN sized to an LSTM's parameter count")
    parser.add_argument("--alpha", nargs="+", default=[],
                        help="phrase-level reports of scaled-skip RNNs (--skip-scale)")
    args = parser.parse_args(argv)

    def read(path):
        try:
            with open(path) as f:
                report = json.load(f)
        except (OSError, json.JSONDecodeError) as err:
            parser.error(f"cannot read the SST report {path!r}: {err}")
        if not isinstance(report, dict) or not isinstance(report.get("runs"), list):
            parser.error(f"{path!r} is not a numrnn sst results file (no list of runs)")
        return report

    phrases, sentences = read(args.phrases), read(args.sentences)
    sized = read(args.sized) if args.sized else None
    alphas = [read(path) for path in args.alpha]
    extra = ([f"{args.sized} (an RNN sized to an LSTM's parameter count)"] if args.sized else []) + \
        [f"{path} (scaled skip)" for path in args.alpha]
    command = "python -m numrnn.experiments.stats " + " ".join(argv if argv is not None else sys.argv[1:])
    text = ("# SST: significance of the README's comparisons\n\n"
            f"Command: `{command}`  \nData: the test accuracies of {args.phrases} (phrase-trained) and "
            f"{args.sentences} (sentence-trained, regularised rows)"
            + (", and the phrase-trained rows of " + ", ".join(extra) if extra else "") +
            ". Two-sided tests over seeds, unpaired (different models share a seed number, not a draw): "
            "Welch's t with its 95 % interval for the difference of means, and the exact permutation "
            "test of the difference of means (its smallest possible p is 2/20 = 0.1 with 3 seeds a side, "
            "2/252 = 0.008 with 5 a side, 1/56 = 0.018 with 5 against 3). \"Best\" rows are chosen by "
            "their mean test accuracy, named in brackets. The last column adjusts the Welch p-values for "
            "testing every row of the table together (Holm's step-down correction): a row below 0.05 "
            "there is one that the chance alone puts below 0.05 in at most 5 % of such tables, all rows "
            "counted (conservative where a row repeats another, e.g. a \"best\" row).\n\n"
            + sst_tests(phrases, sentences, sized, alphas) + "\n"
            + environment_line(environment(), full_record=None)
            + " No training: these are tests on recorded numbers.\n")
    atomic_write_text(args.out, text)
    print(text)
    return 0


__all__ = ["betainc", "t_two_sided_p", "paired_t", "welch_t", "sign_flip_test", "signed_ranks", "sst_tests",
           "wilcoxon_signed_rank", "bootstrap_ci", "permutation_test", "compare_paired", "EXACT_LIMIT",
           "t_quantile", "welch_interval", "extra_comparisons"]


if __name__ == "__main__":
    raise SystemExit(main())
