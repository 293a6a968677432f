"""The character LM and its text: reading files, the vocabulary, batching, the generated text,
bits per character, sampling, checkpoints, the command line, and that it learns."""
import json
import math
import re

import numpy as np
import pytest

from numrnn.experiments.charlm import (bits_per_char, build_model, compare_versions, load_model, main,
                           results_markdown, sample, save_model, train, unigram_bits)
from numrnn.data.text import Vocab, batchify, generate_text, inputs_and_targets, read_text, split


# ------------------------------------------------------------------------------- text files
def test_a_utf8_file_is_read_as_it_is(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("héllo, 世界\nline two".encode("utf-8"))
    assert read_text(path) == "héllo, 世界\nline two"


def test_an_empty_file_is_refused_by_name(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.txt.*is empty"):
        read_text(path)


def test_a_file_that_is_not_utf8_is_refused_with_the_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt.*not valid UTF-8: byte 0xe9 at offset 3"):
        read_text(path)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_text(tmp_path / "nope.txt")


# ------------------------------------------------------------------------------- vocabulary
def test_encode_then_decode_gives_the_text_back():
    text = "the cat (which ...) sees é"
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.max() == len(vocab) - 1
    assert vocab.decode(ids) == text
    assert vocab.chars == sorted(set(text))


def test_unknown_characters_and_bad_vocabularies_are_refused():
    vocab = Vocab.from_text("abc")
    with pytest.raises(ValueError, match=r"prime holds characters not in the vocabulary: \['z'\]"):
        vocab.encode("abz", name="prime")
    with pytest.raises(ValueError, match="repeat"):
        Vocab(["a", "a"])
    with pytest.raises(ValueError, match="single characters"):
        Vocab(["ab"])


# -------------------------------------------------------------------------------- batching
def test_batchify_cuts_contiguous_streams():
    ids = np.arange(23)
    streams = batchify(ids, 4)
    assert streams.shape == (4, 5)
    for b in range(4):
        np.testing.assert_array_equal(streams[b], ids[5 * b:5 * b + 5])
    x, y = inputs_and_targets(streams)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])          # y is x shifted by one


def test_batching_and_splitting_refuse_impossible_settings():
    with pytest.raises(ValueError, match="batch_size=10 leaves 1 characters"):
        batchify(np.arange(15), 10)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        batchify(np.arange(15), 0)
    with pytest.raises(ValueError, match="valid_fraction"):
        split(np.arange(100), 1.5)
    with pytest.raises(ValueError, match="too short"):
        split(np.arange(5), 0.1)
    train_part, valid_part = split(np.arange(100), 0.2)
    np.testing.assert_array_equal(np.concatenate([train_part, valid_part]), np.arange(100))
    assert len(valid_part) == 20


# --------------------------------------------------------------------------- generated text
def test_the_generated_text_is_deterministic_and_has_the_asked_length():
    a, b = generate_text(3000, seed=5), generate_text(3000, seed=5)
    assert a == b and len(a) == 3000
    assert generate_text(3000, seed=6) != a
    assert generate_text(1000, seed=5) == a[:1000]


def test_the_generated_grammar_closes_what_it_opens_and_agrees():
    text = generate_text(20_000, seed=0)
    whole = text[:text.rfind("\n") + 1]            # whole paragraphs only
    for line in whole.splitlines():
        assert line.count("(") == line.count(")") and line.count('"') % 2 == 0
    assert "the cats (which" in text or "the dogs (which" in text
    assert " the cats sees " not in text and " the cat see " not in text


# ----------------------------------------------------------------------- bits per character
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_bits_per_char_by_chunks_equals_one_forward(cell, chunk):
    vocab = Vocab.from_text(generate_text(2000))
    model = build_model(len(vocab), "D", cell, hidden_size=8, embed_size=4, seed=0, scale=0.3)
    streams = batchify(vocab.encode(generate_text(2000)), 4)
    x, y = inputs_and_targets(streams)
    from numrnn.nn.losses import softmax_cross_entropy
    whole = softmax_cross_entropy(model.predict(x), y)[0] / math.log(2)
    assert bits_per_char(model, streams, chunk=chunk) == pytest.approx(whole, rel=1e-12)


def test_unigram_bits_is_the_cross_entropy_of_the_frequencies():
    train_ids, valid_ids = np.array([0, 0, 0, 1]), np.array([0, 1])
    p = np.array([4, 2]) / 6                                          # add-one counts
    assert unigram_bits(train_ids, valid_ids, 2) == pytest.approx(-np.log2(p).mean())


# -------------------------------------------------------------------------------- sampling
def _tiny(version="D", seed=0, cell="rnn"):
    vocab = Vocab.from_text(generate_text(2000))
    return build_model(len(vocab), version, cell, hidden_size=8, embed_size=4, seed=seed,
                       scale=0.5), vocab


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_sampling_with_the_same_seed_gives_the_same_text(cell):
    model, vocab = _tiny(cell=cell)
    a = sample(model, vocab, 80, temperature=0.9, seed=3, prime="the ")
    assert a == sample(model, vocab, 80, temperature=0.9, seed=3, prime="the ")
    assert a.startswith("the ") and len(a) == 84 and set(a) <= set(vocab.chars)
    assert sample(model, vocab, 80, temperature=0.9, seed=4, prime="the ") != a


def test_a_low_temperature_picks_the_most_likely_character():
    """At tau -> 0 the softmax puts all mass on the argmax: the sample is the greedy continuation."""
    model, vocab = _tiny()
    text = sample(model, vocab, 20, temperature=1e-4, seed=0, prime="a")
    greedy, state, nxt = [], None, vocab.index["a"]
    for _ in range(20):
        logits, cache = model.forward(np.array([[nxt]]), state=state, train=False)
        state, nxt = cache["layer"].state, int(np.argmax(logits[0, -1]))
        greedy.append(nxt)
    assert text == "a" + vocab.decode(greedy)


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), "hot"])
def test_bad_temperatures_and_primes_are_refused(temperature):
    model, vocab = _tiny()
    with pytest.raises(ValueError, match="temperature"):
        sample(model, vocab, 5, temperature=temperature)
    with pytest.raises(ValueError, match="prime"):
        sample(model, vocab, 5, prime="Z")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        sample(model, vocab, 5, seed=-1)


# -------------------------------------------------------------------------------- training
def test_a_tiny_model_beats_the_unigram_baseline_in_seconds():
    """2 epochs of 45 updates (0.2 s on an idle core); the budget is the number of updates, not
    the clock, so a busy machine cannot make the test fail."""
    text = generate_text(20_000, seed=0)
    model, vocab, history = train(text, version="A", hidden_size=32, embed_size=8, batch_size=16,
                                  k1=25, epochs=2, lr=5e-3, seed=0)
    assert history["diverged"] is None
    assert history["updates"] == 90                      # 18000 chars / 16 streams / k1=25, twice
    assert history["valid_bpc"][-1] < history["unigram_bpc"] - 0.5, history


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the overflow is the point
def test_a_diverging_run_stops_and_keeps_the_last_good_parameters():
    text = generate_text(5000, seed=0)
    logs = []
    model, _, history = train(text, version="A", hidden_size=8, embed_size=4, k1=20, epochs=3,
                              optimizer="sgd", lr=1e300, clip=None, seed=0, log=logs.append)
    assert history["updates"] == 1
    # update 1 (lr 1e300) leaves finite but huge weights whose loss is inf: update 2 cannot be made,
    # and the last parameters with a finite loss are the initial ones
    assert (history["diverged"]["step"], history["diverged"]["kept"]) == (2, 0)
    assert any("stopped at update 2" in line and "after 0 updates" in line for line in logs), logs
    fresh = build_model(model.output_size, "A", hidden_size=8, embed_size=4, seed=0)
    for name, value in fresh.params.items():
        np.testing.assert_array_equal(model.params[name], value)


def test_k2_and_reset_every_are_used_and_checked():
    text = generate_text(4000, seed=0)
    _, _, h = train(text, version="C", hidden_size=8, embed_size=4, k1=10, k2=30, reset_every=40,
                    epochs=1, batch_size=4, scale=0.3)
    steps = 3600 // 4 - 1                              # 4 streams of the 90% training part, minus 1
    segments = [min(40, steps - a) for a in range(0, steps, 40)]
    assert h["updates"] == sum(-(-n // 10) for n in segments)      # every k1 = 10 steps per segment
    with pytest.raises(ValueError, match="k2 must be >= k1"):
        train(text, k1=10, k2=5)
    with pytest.raises(ValueError, match="k1"):
        train(text, k1=0)


# --------------------------------------------------------------------- checkpoints and CLI
def test_a_checkpoint_gives_back_the_same_model(tmp_path):
    model, vocab = _tiny("C")
    path = tmp_path / "m"
    save_model(path, model, vocab, extra={"note": np.float64(1.5)})
    loaded, vocab2, extra = load_model(path)
    assert vocab2 == vocab and extra == {"note": 1.5}
    for name, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
    assert sample(loaded, vocab2, 30, seed=1) == sample(model, vocab, 30, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]   # no temporary files


def test_a_file_that_is_not_a_char_lm_checkpoint_is_refused(tmp_path):
    from numrnn.training.checkpoint import CheckpointError
    from numrnn.training.checkpoint import save_checkpoint as save_plain
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"x\.json does not exist"):
        load_model(tmp_path / "x")
    model, _ = _tiny()
    save_plain(tmp_path / "plain", model)                    # a numrnn checkpoint, no vocabulary
    with pytest.raises(CheckpointError, match="plain.*not a numrnn charlm model"):
        load_model(tmp_path / "plain")


def test_the_command_line_trains_on_a_users_file_and_samples(tmp_path, capsys):
    corpus = tmp_path / "mine.txt"
    corpus.write_text(generate_text(3000, seed=2), encoding="utf-8")
    saved = tmp_path / "models" / "charlm"
    code = main(["charlm-train", "--text", str(corpus), "--version", "B", "--hidden-size", "8",
                 "--embed-size", "4", "--batch-size", "4", "--k1", "20", "--epochs", "1",
                 "--out", str(tmp_path), "--sample-chars", "0"])
    assert code == 0 and saved.with_suffix(".npz").exists() and saved.with_suffix(".json").exists()
    printed = capsys.readouterr().out
    assert "epoch 1" in printed and f"saved {saved}.npz/.json" in printed
    for where in (str(tmp_path), str(saved)):                   # the --out root, or the model itself
        main(["charlm-sample", "--checkpoint", where, "--sample-chars", "40", "--seed", "7", "--prime", "the"])
        first = capsys.readouterr().out
        assert first.startswith("the") and len(first) == 44
    main(["charlm-sample", "--checkpoint", str(tmp_path), "--chars", "40", "--seed", "7", "--prime", "the"])
    again = capsys.readouterr()
    assert again.out == first and again.err == "numrnn: --chars is deprecated; use --sample-chars\n"
    assert main(["charlm-train", "--text", str(corpus), "--hidden-size", "4", "--embed-size", "4",
                 "--batch-size", "4", "--k1", "20", "--epochs", "1", "--out", str(tmp_path / "q"),
                 "--sample-chars", "0", "--quiet", "--dtype", "float32"]) == 0
    assert "epoch 1" not in capsys.readouterr().out                         # --quiet
    model, _, _ = load_model(tmp_path / "q" / "models" / "charlm")
    assert model.config["dtype"] == "float32"


def test_resume_continues_out_and_equals_one_longer_run(tmp_path, capsys):
    corpus = tmp_path / "mine.txt"
    corpus.write_text(generate_text(3000, seed=3), encoding="utf-8")
    flags = ["--text", str(corpus), "--hidden-size", "6", "--embed-size", "4", "--batch-size", "4",
             "--k1", "10", "--k2", "15", "--sample-chars", "0", "--quiet"]
    assert main(["charlm-train", *flags, "--epochs", "2", "--out", str(tmp_path / "a")]) == 0
    assert main(["charlm-train", *flags, "--epochs", "1", "--out", str(tmp_path / "a"), "--resume",
                 "--k1", "99"]) == 0                  # the saved settings, not the flags, continue it
    assert main(["charlm-train", *flags, "--epochs", "3", "--out", str(tmp_path / "b")]) == 0
    resumed, _, extra = load_model(tmp_path / "a" / "models" / "charlm")
    straight, _, extra_b = load_model(tmp_path / "b" / "models" / "charlm")
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value, err_msg=name)
    assert extra["history"]["valid_bpc"] == extra_b["history"]["valid_bpc"] and extra["epoch"] == 3
    other = tmp_path / "other.txt"
    other.write_text("abc" * 500, encoding="utf-8")
    capsys.readouterr()
    assert main(["charlm-train", "--text", str(other), "--out", str(tmp_path / "a"), "--resume"]) == 2
    assert "was trained on another text" in capsys.readouterr().err
    assert main(["charlm-train", "--text", str(other), "--out", str(tmp_path / "c"), "--resume"]) == 2
    assert f"{tmp_path / 'c' / 'models' / 'charlm'}.npz does not exist" in capsys.readouterr().err


def test_the_command_line_refuses_a_bad_text_file(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    assert main(["charlm-train", "--text", str(bad), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "charlm-train: error:" in err and "bad.txt" in err and "not valid UTF-8" in err
    assert "Traceback" not in err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_command_says_where_saves_what_it_kept_and_exits_1(tmp_path, capsys):
    code = main(["charlm-train", "--text-chars", "5000", "--hidden-size", "8", "--embed-size", "4",
                 "--k1", "20", "--epochs", "3", "--optimizer", "sgd", "--lr", "1e300",
                 "--out", str(tmp_path), "--sample-chars", "0"])
    captured = capsys.readouterr()
    assert code == 1
    assert "diverged at step 2 (loss is" in captured.err and "initial parameters" in captured.err
    saved = tmp_path / "models" / "charlm"
    assert f"saved {saved}" in captured.out            # and it was: the kept parameters
    model, vocab, extra = load_model(saved)
    fresh = build_model(len(vocab), "A", hidden_size=8, embed_size=4, seed=0)
    for name, value in fresh.params.items():
        np.testing.assert_array_equal(model.params[name], value)
    assert extra["history"]["diverged"]["step"] == 2


@pytest.mark.parametrize("argv,flag", [(["--clip", "0"], "argument --clip: must lie in (0, inf)"),
                                       (["--lr", "nan"], "argument --lr: must be a finite number"),
                                       (["--seed", "-1"], "argument --seed: must be >= 0"),
                                       (["--hidden-size", "0"], "argument --hidden-size: must be >= 1"),
                                       (["--cell", "elman"], "argument --cell: invalid choice"),
                                       (["--version", "E"], "argument --version: invalid choice: 'E'"),
                                       (["--cell", "lstm", "--activation", "tanh"],
                                        "--activation does not apply to the lstm cell")])
def test_bad_flags_are_named(tmp_path, capsys, argv, flag):
    assert main(["charlm-train", "--text-chars", "3000", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err


def test_old_flag_spellings_still_work_and_say_their_new_names(tmp_path, capsys):
    assert main(["charlm-compare", "--generate-chars", "3000", "--versions", "A", "--seeds", "0",
                 "--hidden", "4", "--embed-size", "4", "--batch-size", "4", "--window", "20",
                 "--epochs", "1", "--jobs", "1", "--cell", "gru", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "results" / "charlm_compare.md").read_text()
    assert "| A | " in table and "--hidden 4" in table and "cell=gru" in table
    assert capsys.readouterr().err.splitlines() == [
        "numrnn: --generate-chars is deprecated; use --text-chars",
        "numrnn: --window is deprecated; use --k1", "numrnn: --jobs is deprecated; use --workers"]


def test_the_comparison_reports_every_version_and_seed():
    rows = compare_versions(("A", "C"), seeds=(0, 1), text=generate_text(3000), hidden_size=4,
                            embed_size=4, batch_size=4, k1=20, epochs=2)
    assert [(r["version"], r["seed"]) for r in rows] == [("A", 0), ("A", 1), ("C", 0), ("C", 1)]
    again = compare_versions(("A",), seeds=(1,), text=generate_text(3000), hidden_size=4,
                             embed_size=4, batch_size=4, k1=20, epochs=2)
    assert again[0]["valid_bpc"] == rows[1]["valid_bpc"]            # same seed, same bits
    table = results_markdown(rows, "numrnn charlm-compare ...", {"epochs": 2})
    assert "| A | " in table and "| C | " in table and "numrnn charlm-compare" in table
    assert f"1: {rows[1]['valid_bpc']:.3f}" in table


def test_a_learned_skip_scale_reports_its_final_value_per_run():
    kwargs = dict(text=generate_text(3000), hidden_size=4, embed_size=4, batch_size=4, k1=20, epochs=2)
    rows = compare_versions(("C",), seeds=(0, 1), learn_skip_scale=True, **kwargs)
    finals = [r["skip_scale_final"]["layer.alpha"] for r in rows]
    assert all(a != 1.0 for a in finals) and finals[0] != finals[1]   # trained from 1, per seed
    table = results_markdown(rows, "numrnn charlm-compare --learn-skip-scale ...", {"epochs": 2})
    assert f"its final value per run: C seed 0 {finals[0]:.3f}, C seed 1 {finals[1]:.3f}." in table
    fixed = compare_versions(("C",), seeds=(0,), **kwargs)
    assert "skip_scale_final" not in fixed[0]
    assert "Learned skip scale" not in results_markdown(fixed, "numrnn charlm-compare ...", {"epochs": 2})


def test_compare_writes_every_runs_curve_and_cpu_time_beside_the_table(tmp_path, capsys):
    assert main(["charlm-compare", "--text-chars", "3000", "--versions", "A", "C", "--seeds", "0", "1",
                 "--hidden-size", "4", "--embed-size", "4", "--batch-size", "4", "--k1", "20",
                 "--epochs", "2", "--skip-scale", "0.5", "--workers", "1", "--name", "t",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "wrote " in out and "t.json" in out and "every run's validation bpc after each epoch" in out
    table = (tmp_path / "results" / "t.md").read_text()
    record = json.loads((tmp_path / "results" / "t.json").read_text())
    assert "| CPU s/run |" in table and "skip_scale=0.5" in table
    assert re.search(r"Environment: .*kernel \w+.*\(full record in t\.json\)", table)
    assert record["command"].startswith("numrnn charlm-compare") and record["settings"]["skip_scale"] == 0.5
    assert [(r["version"], r["seed"], len(r["curve"])) for r in record["rows"]] == \
        [("A", 0, 2), ("A", 1, 2), ("C", 0, 2), ("C", 1, 2)]
    for r in record["rows"]:
        assert r["curve"][-1] == r["valid_bpc"] and 0 < r["cpu_seconds"] <= r["seconds"] * 1.5 + 1
        assert f"{r['seed']}: {r['valid_bpc']:.3f}" in table
    assert record["environment"]["blas_threads_per_run"] == 1
