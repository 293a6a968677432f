"""numrnn.experiments.stats against values known in closed form or from textbook tables."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.experiments import stats


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, 12.7])
def test_t_tail_matches_the_closed_forms_for_1_and_2_degrees_of_freedom(t):
    # df = 1 is the Cauchy distribution, df = 2 has P(|T| > t) = 1 - t / sqrt(2 + t^2)
    assert stats.t_two_sided_p(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), abs=1e-12)
    assert stats.t_two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), abs=1e-12)


@pytest.mark.parametrize("df, t975", [(4, 2.776445), (10, 2.228139), (29, 2.045230), (100, 1.983972)])
def test_t_tail_gives_5_percent_at_the_tabulated_critical_values(df, t975):
    assert stats.t_two_sided_p(t975, df) == pytest.approx(0.05, abs=2e-6)


def test_betainc_symmetry_and_a_closed_form():
    # I_x(1, b) = 1 - (1 - x)^b
    assert stats.betainc(1.0, 3.0, 0.2) == pytest.approx(1 - 0.8 ** 3, abs=1e-13)
    assert stats.betainc(2.5, 0.5, 0.7) == pytest.approx(1 - stats.betainc(0.5, 2.5, 0.3), abs=1e-13)


def test_paired_t_on_a_worked_example():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])          # mean 3, sd sqrt(2.5): t = 3 / sqrt(0.5)
    r = stats.paired_t(d)
    assert r["t"] == pytest.approx(3 / math.sqrt(0.5)) and r["df"] == 4
    assert r["p"] == pytest.approx(stats.t_two_sided_p(3 / math.sqrt(0.5), 4))
    assert 0.01 < r["p"] < 0.02    # t = 4.24 on 4 df: between the 2 % (3.747) and 1 % (4.604) points


def test_wilcoxon_exact_small_cases():
    # n = 5 all positive: W+ = 15, the most extreme of 32 patterns on each side: p = 2/32
    r = stats.wilcoxon_signed_rank([0.5, 1.1, 2.0, 3.2, 4.4])
    assert r["w_plus"] == 15 and r["p"] == pytest.approx(2 / 32)
    # one negative at the smallest rank: W+ = 14, P(W+ >= 14) = 2/32, two-sided 4/32
    assert stats.wilcoxon_signed_rank([-0.5, 1.1, 2.0, 3.2, 4.4])["p"] == pytest.approx(4 / 32)
    # zeros are dropped, ties share a rank
    r = stats.wilcoxon_signed_rank([0.0, 1.0, -1.0, 2.0])
    assert r["n"] == 3 and r["w_plus"] == pytest.approx(1.5 + 3)


def test_sign_flip_exact_and_sampled():
    assert stats.sign_flip_test([1.0, 2.0, 3.0, 4.0, 5.0])["p"] == pytest.approx(2 / 32)
    d = np.linspace(0.1, 3.0, 30)                     # 2^30 patterns: sampled, never 0
    r = stats.sign_flip_test(d, n_resamples=5000, seed=1)
    assert not r["exact"] and r["p"] == pytest.approx(1 / 5001)
    assert stats.sign_flip_test(d, n_resamples=5000, seed=1) == r        # seeded: same answer


def test_permutation_test_exact_extreme_split():
    r = stats.permutation_test([10.0, 11.0, 12.0], [1.0, 2.0, 3.0])
    assert r["exact"] and r["p"] == pytest.approx(2 / math.comb(6, 3)) and r["diff"] == 9.0


def test_welch_matches_the_pooled_t_for_equal_sizes_and_variances():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 3.0, 4.0, 5.0])
    r = stats.welch_t(a, b)
    assert r["t"] == pytest.approx(-1 / math.sqrt(2 * (5 / 3) / 4)) and r["df"] == pytest.approx(6)


def test_bootstrap_interval_holds_the_mean_and_collapses_on_constants():
    x = np.random.default_rng(0).normal(2.0, 1.0, 40)
    low, high = stats.bootstrap_ci(x)
    assert low < x.mean() < high and high - low < 1.0
    assert stats.bootstrap_ci([3.0] * 6) == (3.0, 3.0)


def test_compare_paired_reports_a_ratio():
    a, b = np.array([1.0, 2.0, 4.0, 8.0]), np.array([2.0, 4.0, 8.0, 16.0])    # a = b / 2
    r = stats.compare_paired(a, b)
    assert r["ratio"] == pytest.approx(0.5) and r["ratio_ci"] == pytest.approx([0.5, 0.5])
    assert r["a_lower"] == 4 and r["sign_flip_p"] == pytest.approx(2 / 16)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="NaN or inf"):
        stats.sign_flip_test([1.0, float("nan")])
    with pytest.raises(ValueError, match="equal lengths"):
        stats.compare_paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        stats.bootstrap_ci([])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False).filter(lambda v: abs(v) > 1e-6),
                min_size=2, max_size=12))
def test_paired_tests_are_valid_p_values_and_symmetric_in_sign(d):
    d = np.array(d)
    for test in (stats.sign_flip_test, stats.wilcoxon_signed_rank):
        p, q = test(d)["p"], test(-d)["p"]
        assert 0 < p <= 1 and p == pytest.approx(q)
    # the exact Wilcoxon distribution sums to 1: the p of W+ at its mean is 1
    n = len(d)
    assert stats.wilcoxon_signed_rank(d)["p"] >= 2 ** -n * 2 - 1e-12


def _sst_report(rows):
    """A minimal SST report: rows {(cell, version, reg): [accuracy % per seed]}."""
    runs = []
    for (cell, version, reg), accs in rows.items():
        for seed, acc in enumerate(accs):
            runs.append({"name": f"{cell}-{version}-{reg}-seed{seed}", "test_acc": acc / 100,
                         "config": {"cell": cell, "version": version, "seed": seed,
                                    "dropout": 0.3 if reg == "reg" else 0.0, "weight_decay": 0.0}})
    return {"runs": runs}


def test_sst_tests_compare_the_rows_the_readme_compares(tmp_path):
    phrases = _sst_report({(c, v, "reg"): [40.0 + i, 41.0 + i, 42.0 + i]
                           for i, (c, v) in enumerate([(c, v) for c in ("rnn", "lstm") for v in "ABCD"])})
    sentences = _sst_report({(c, v, r): [30.0, 31.0, 32.0] for c in ("rnn", "lstm") for v in "ABCD"
                             for r in ("reg", "noreg")})
    md = stats.sst_tests(phrases, sentences)
    # phrases RNN C (offset 2) vs RNN A (offset 0): +2 points, the 3-vs-3 split can be no more extreme
    # than the observed one only twice in 20
    assert "| phrases: skip helps the RNN? C vs A | 43.0 (0,1,2) | 41.0 (0,1,2) | +2.0 |" in md
    assert "| sentences: skip helps the RNN? D vs B | 31.0 (0,1,2) | 31.0 (0,1,2) | +0.0 | 1 | 1 |" in md
    out = tmp_path / "sst_tests.md"
    (tmp_path / "p.json").write_text(json.dumps(phrases))
    (tmp_path / "s.json").write_text(json.dumps(sentences))
    assert stats.main([str(tmp_path / "p.json"), str(tmp_path / "s.json"), str(out)]) == 0
    text = out.read_text()
    assert "Command: `python -m numrnn.experiments.stats" in text and "kernel" in text
