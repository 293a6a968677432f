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


def test_holm_on_a_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5]) == pytest.approx([0.5]) and stats.holm([0.3, 0.4]) == pytest.approx([0.6, 0.6])
    with pytest.raises(ValueError, match=r"p_values must lie in \[0, 1\]"):
        stats.holm([0.2, 1.5])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30))
def test_holm_never_lowers_a_p_keeps_the_order_and_stays_between_bonferroni_and_raw(p):
    p = np.array(p)
    adjusted = stats.holm(p)
    assert np.all(adjusted >= p) and np.all(adjusted <= 1)
    assert np.all(adjusted <= np.minimum(1, len(p) * p) + 1e-15)       # never above Bonferroni
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= 0)                       # a smaller p stays no larger
    assert adjusted.min() == pytest.approx(min(1, len(p) * p.min()))   # the smallest: times m


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
    # equal rows: difference 0, Welch df 4, interval +-t_{0.975,4} * sqrt(1/3 + 1/3) = +-2.27
    assert "| sentences: skip helps the RNN? D vs B | 31.0 (0,1,2) | 31.0 (0,1,2) | +0.0 | -2.3 to +2.3 | 1 | 1 | 1 |" in md
    # the Holm column: the 13 rows' Welch p-values adjusted together
    rows = [line.split("|") for line in md.splitlines() if line.startswith("| phrases") or line.startswith("| sentences")]
    assert len(rows) == 13 and "Holm-adjusted over the 13 rows" in md
    raw, adjusted = [float(r[6]) for r in rows], [float(r[8]) for r in rows]
    assert adjusted == pytest.approx([float(f"{q:.2g}") for q in stats.holm(raw)], rel=0.06)
    # the "best" rows are chosen by their mean and named: RNN D (offset 3) and LSTM D (offset 7)
    assert "| phrases: best skip RNN vs best LSTM (RNN D vs LSTM D) | 44.0 (0,1,2) | 48.0 (0,1,2) | -4.0 |" in md
    out = tmp_path / "sst_tests.md"
    (tmp_path / "p.json").write_text(json.dumps(phrases))
    (tmp_path / "s.json").write_text(json.dumps(sentences))
    assert stats.main([str(tmp_path / "p.json"), str(tmp_path / "s.json"), str(out)]) == 0
    text = out.read_text()
    assert "Command: `python -m numrnn.experiments.stats" in text and "kernel" in text


@pytest.mark.parametrize("df, t975", [(4, 2.776445), (10, 2.228139), (29, 2.045230), (100, 1.983972)])
def test_t_quantile_inverts_the_tabulated_critical_values(df, t975):
    assert stats.t_quantile(0.95, df) == pytest.approx(t975, abs=1e-5)


def test_welch_interval_is_the_pooled_interval_for_equal_sizes_and_variances():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 3.0, 4.0, 5.0])
    half = 2.446912 * math.sqrt(2 * (5 / 3) / 4)          # t_{0.975, 6} * pooled standard error
    low, high = stats.welch_interval(a, b)
    assert low == pytest.approx(-1 - half, abs=1e-5) and high == pytest.approx(-1 + half, abs=1e-5)
    assert stats.welch_interval([1.0, 1.0], [0.0, 0.0]) == (1.0, 1.0)       # no spread: the difference


def _sized_or_alpha_report(rows, hidden=100, recurrent=20_100, alpha=None, learned=False):
    report = _sst_report(rows)
    options = {**({"skip_scale": alpha} if alpha else {}), **({"learn_skip_scale": True} if learned else {})}
    for run in report["runs"]:
        run["config"].update(hidden_size=hidden, **({"options": options} if options else {}))
        run["n_params_parts"] = {"recurrent": recurrent}
    return report


def test_sst_tests_add_the_sized_rnn_and_the_scaled_skip_rows(tmp_path):
    phrases = _sst_report({(c, v, "reg"): [40.0 + i, 41.0 + i, 42.0 + i, 43.0 + i, 44.0 + i]
                           for i, (c, v) in enumerate([(c, v) for c in ("rnn", "lstm") for v in "ABCD"])})
    sentences = _sst_report({("rnn", "A", "reg"): [30.0, 31.0]})
    sized = _sized_or_alpha_report({("rnn", "D", "reg"): [50.0, 51.0, 52.0]}, hidden=177, recurrent=80_535)
    alpha = _sized_or_alpha_report({("rnn", "C", "reg"): [40.0, 40.5, 41.0],
                                    ("rnn", "D", "reg"): [39.0]}, alpha=0.5)
    md = stats.sst_tests(phrases, sentences, sized, [alpha])
    # LSTM A is offset 4: 46.0 on seeds 0-4; the sized RNN D 51.0 on seeds 0-2
    assert "| phrases, sized: RNN D H=177 (80,535 rec. params) vs LSTM A | 51.0 (0,1,2) | 46.0 (0,1,2,3,4) | +5.0 |" in md
    assert "| phrases, sized: RNN D H=177 (80,535 rec. params) vs RNN D H=100 | 51.0 (0,1,2) | 45.0 (0,1,2,3,4) |" in md
    # 3 against 5 seeds, every sized value above every LSTM value: of the 56 splits only the one seen
    # is as extreme against LSTM A (p = 1/56); against LSTM B its mirror (45, 46, 47 against the
    # rest) is too (p = 2/56)
    assert "vs LSTM A | 51.0 (0,1,2) | 46.0 (0,1,2,3,4) | +5.0 | +2.8 to +7.2 | 0.0017 | 0.018 |" in md
    assert "vs LSTM B | 51.0 (0,1,2) | 47.0 (0,1,2,3,4) | +4.0 | +1.8 to +6.2 | 0.0049 | 0.036 |" in md
    assert "| phrases, scaled skip: RNN C alpha 0.5 vs alpha 1 | 40.5 (0,1,2) | 44.0 (0,1,2,3,4) | -3.5 |" in md
    assert "| phrases, scaled skip: RNN C alpha 0.5 vs RNN A (no skip) | 40.5 (0,1,2) | 42.0 (0,1,2,3,4) | -1.5 |" in md
    learned = _sized_or_alpha_report({("rnn", "D", "reg"): [41.0, 42.0]}, learned=True)
    md_learned = stats.sst_tests(phrases, sentences, alphas=[learned])
    assert "| phrases, scaled skip: RNN D alpha learned from 1 vs alpha 1 | 41.5 (0,1) | 45.0 (0,1,2,3,4) |" in md_learned
    # a row with one seed is not tested, and the table says so; so are the sentence rows missing here
    assert "Not tested (fewer than 2 seeds on a side): " in md and "RNN D alpha 0.5 vs alpha 1" in md
    assert "sentences: skip helps the RNN? C vs A" in md.split("Not tested")[1]
    for name, report in (("p", phrases), ("s", sentences), ("z", sized), ("a", alpha)):
        (tmp_path / f"{name}.json").write_text(json.dumps(report))
    out = tmp_path / "t.md"
    assert stats.main([str(tmp_path / "p.json"), str(tmp_path / "s.json"), str(out), "--sized",
                       str(tmp_path / "z.json"), "--alpha", str(tmp_path / "a.json")]) == 0
    text = out.read_text()
    assert "vs LSTM A | 51.0 (0,1,2)" in text and "(an RNN sized to an LSTM's parameter count)" in text


def test_the_stats_command_names_a_file_that_is_not_a_report(tmp_path, capsys):
    (tmp_path / "p.json").write_text(json.dumps({"runs": []}))
    (tmp_path / "bad.json").write_text(json.dumps([1, 2]))
    with pytest.raises(SystemExit) as exit_:
        stats.main([str(tmp_path / "p.json"), str(tmp_path / "p.json"), str(tmp_path / "o.md"),
                    "--sized", str(tmp_path / "bad.json")])
    assert exit_.value.code == 2
    assert f"{str(tmp_path / 'bad.json')!r} is not a numrnn sst results file" in capsys.readouterr().err
