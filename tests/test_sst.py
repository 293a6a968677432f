"""The SST experiment on a tiny treebank written by the tests: model, lazy Adam, training, the
report, sst-predict, and the commands' flags and outputs."""
import argparse
import json
from dataclasses import replace

import numpy as np
import pytest

from numrnn.experiments import sst
from numrnn.experiments import sst_predict as sp
from numrnn.data import sst as data

import sst_samples
from sst_samples import write_treebank

TINY = sst.Config(embed_size=6, hidden_size=5, epochs=3, patience=2, batch_size=2)


@pytest.fixture
def treebank(tmp_path):
    return write_treebank(tmp_path / "trees")


@pytest.fixture
def loaded(treebank):
    return sst.load(treebank, TINY)


def test_load_builds_the_vocabulary_from_training_sentences(treebank):
    vocab, splits = sst.load(treebank, TINY)
    assert "lovely" in vocab.stoi and '"' in vocab.stoi and vocab.lower
    assert [len(splits[s][0]) for s in data.SPLITS] == [4, 1, 1]
    vocab_p, splits_p = sst.load(treebank, replace(TINY, phrases=True))
    assert vocab_p == vocab                     # phrases add examples, not words
    assert len(splits_p["train"][0]) > 4 and np.array_equal(splits_p["dev"][1], splits["dev"][1])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_padded_batch_matches_single_sentences_through_the_model(loaded, cell):
    vocab, splits = loaded
    model, _ = sst.build_model(replace(TINY, cell=cell, regularised=False, dtype="float64"), vocab)
    ids, labels = splits["train"]
    tokens, lengths = data.pad_batch(ids)
    loss, grads, _ = model.loss_and_grads(tokens, labels, lengths=lengths)
    singles = [model.loss_and_grads(s[None], labels[i:i + 1]) for i, s in enumerate(ids)]
    assert loss == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(g, np.mean([s[1][name] for s in singles], axis=0),
                                   rtol=1e-9, atol=1e-13, err_msg=name)


def test_training_keeps_the_best_dev_epoch_and_is_reproducible(loaded):
    vocab, splits = loaded
    config = replace(TINY, epochs=6, patience=10, lr=0.05)
    model, history = sst.train(config, splits, vocab)
    assert len(history["dev_acc"]) == len(history["train_loss"]) == len(history["seconds"]) == 6
    assert history["train_loss"][-1] < history["train_loss"][0]
    best = history["best_epoch"]
    assert history["dev_acc"][best - 1] == max(history["dev_acc"]) == history["dev_acc_best"]
    assert sst.accuracy(model, *splits["dev"]) == history["dev_acc_best"]
    model2, history2 = sst.train(config, splits, vocab)
    assert history2["train_loss"] == history["train_loss"]          # same seed, same bits
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, model2.params[name])


def test_the_returned_model_holds_the_best_dev_epoch_not_the_last(loaded, monkeypatch):
    vocab, splits = loaded
    config = replace(TINY, lr=0.05, patience=10)
    scripted = iter([0.0, 0.2, 0.6, 0.4, 0.3])              # dev accuracy before and after epochs
    monkeypatch.setattr(sst, "accuracy", lambda *args, **kwargs: next(scripted))
    model, history = sst.train(replace(config, epochs=4), splits, vocab)
    assert history["best_epoch"] == 2 and history["dev_acc"] == [0.2, 0.6, 0.4, 0.3]
    scripted = iter([0.0, 0.2, 0.6])                        # the same run, stopped after epoch 2
    after_two, _ = sst.train(replace(config, epochs=2), splits, vocab)
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, after_two.params[name], err_msg=name)


def test_early_stopping_stops_after_patience_epochs_without_gain(loaded):
    vocab, splits = loaded
    _, history = sst.train(replace(TINY, epochs=20, patience=2, lr=1e-6), splits, vocab)
    assert len(history["dev_acc"]) == history["best_epoch"] + 2 < 20


def test_a_diverging_step_is_refused_and_training_stops_cleanly(loaded):
    """float32 and lr 1e39: Adam's first update moves each entry by about lr and overflows to inf;
    the trainer refuses it, records it and the run keeps its initial parameters."""
    vocab, splits = loaded
    model, history = sst.train(replace(TINY, lr=1e39), splits, vocab)
    d = history["diverged"]
    assert d["step"] == 1 and "update" in d["reason"] and d["kept"] == 0, d
    assert history["dev_acc"] == [] and history["best_epoch"] == 0
    fresh, _ = sst.build_model(replace(TINY, lr=1e39), vocab)
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, fresh.params[name], err_msg=name)


def test_the_embedding_gets_lazy_adam_only_its_batch_rows_move(loaded):
    vocab, splits = loaded
    config = replace(TINY, epochs=1, batch_size=100, regularised=True)   # one batch: all sentences
    model, _ = sst.train(config, splits, vocab)
    fresh, _ = sst.build_model(config, vocab)
    seen = np.unique(np.concatenate(splits["train"][0]))
    moved = np.flatnonzero(np.any(model.embedding["E"] != fresh.embedding["E"], axis=1))
    assert set(moved) == set(seen) | {0}          # 0 is <pad>, in the batch; decay also rows only
    assert len(moved) < len(vocab)


def test_glove_rows_replace_random_embeddings(loaded, tmp_path):
    vocab, _ = loaded
    path = tmp_path / "glove.txt"
    path.write_text("lovely 1 2 3 4\nFILM 5 6 7 8\nunseen 0 0 0 0\n")
    model, found = sst.build_model(replace(TINY, glove=str(path)), vocab)
    E = model.embedding["E"]
    assert found == 2 and E.shape == (len(vocab), 4)
    np.testing.assert_array_equal(E[vocab.stoi["film"]], [5, 6, 7, 8])
    assert not np.array_equal(E[vocab.stoi["dull"]], np.zeros(4))   # not in the file: random


def test_predict_round_trips_through_a_saved_model(loaded, tmp_path, capsys):
    vocab, splits = loaded
    model, _ = sst.train(TINY, splits, vocab)
    sp.save_model(tmp_path / "m", model, vocab)
    model2, vocab2 = sp.load_model(tmp_path / "m")
    assert vocab2 == vocab
    label, probs, tokens = sp.predict(model2, vocab2, "A lovely film, isn't it?")
    assert tokens == ["a", "lovely", "film", "<unk>", "<unk>", "<unk>", "it", "<unk>"]
    assert probs.shape == (5,) and probs.sum() == pytest.approx(1) and label == probs.argmax()
    assert sp.predict(model, vocab, "A lovely film, isn't it?")[0] == label
    with pytest.raises(ValueError, match="no tokens"):
        sp.predict(model, vocab, "   ")
    args = argparse.Namespace(checkpoint=str(tmp_path / "m"), text=[], sentence_only=True)
    sp.run(args, stdin=["a lovely film\n", "\n", "dull\n"])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith(data.LABELS[sp.predict(model, vocab, "a lovely film")[0]])


def test_the_experiment_command_writes_table_json_and_figures_under_out(treebank, tmp_path, monkeypatch,
                                                                         capsys):
    common = ["sst", "--sst-dir", str(treebank), "--versions", "A", "D", "--seeds", "0", "1",
              "--embed-size", "6", "--hidden-size", "5", "--epochs", "2", "--batch-size", "2",
              "--reg", "both", "--quiet"]
    assert sst.main(common + ["--cells", "rnn", "--workers", "1", "--out", str(tmp_path)]) == 0
    out, figures = tmp_path / "results", tmp_path / "figures" / "sst"
    runs = json.loads((out / "sst.json").read_text())
    assert len(runs["runs"]) == 8
    assert runs["command"] == " ".join(["numrnn", *common, "--cells", "rnn", "--workers", "1",
                                        "--out", str(tmp_path)])
    table = (out / "sst.md").read_text()
    assert "| RNN D | reg | 0,1 |" in table and "| RNN A | none | 0,1 |" in table
    assert "Majority class" in table and "46.4" in table
    assert (figures / "learning_curves.png").stat().st_size > 0
    assert (figures / "test_accuracy.png").stat().st_size > 0
    assert capsys.readouterr().out == f"8 runs: {out / 'sst'}.md, {out / 'sst'}.json, {figures}/\n"
    # the same runs in a pool of two workers give the same numbers (each run is seeded); --jobs is
    # the old spelling of --workers, and says so
    monkeypatch.setattr(sst, "plot", lambda *args: None)            # figures were checked above
    assert sst.main(common + ["--cells", "rnn", "--jobs", "2", "--out", str(tmp_path), "--name", "pool"]) == 0
    assert capsys.readouterr().err == "numrnn: --jobs is deprecated; use --workers\n"
    pooled = json.loads((out / "pool.json").read_text())
    assert pooled["workers"] == 2
    for a, b in zip(runs["runs"], pooled["runs"]):
        assert (a["name"], a["test_acc"], a["history"]["train_loss"]) == \
            (b["name"], b["test_acc"], b["history"]["train_loss"])


def test_save_models_lands_under_out_models_and_sst_predict_reads_it(treebank, tmp_path, monkeypatch,
                                                                      capsys):
    from numrnn import cli
    monkeypatch.setattr(sst, "plot", lambda *args: None)
    args = ["sst", "--sst-dir", str(treebank), "--cells", "rnn", "--versions", "special", "--seeds", "0",
            "--embed-size", "4", "--hidden-size", "3", "--epochs", "1", "--workers", "1", "--reg", "on",
            "--out", str(tmp_path), "--name", "m", "--save-models", "--quiet"]
    assert cli.main(args) == 0
    saved = tmp_path / "models" / "m" / "rnn-special-reg-seed0"
    assert saved.with_suffix(".npz").exists() and saved.with_suffix(".json").exists()
    assert f", models in {tmp_path / 'models' / 'm'}/" in capsys.readouterr().out
    assert cli.main(["sst-predict", "--checkpoint", str(saved), "--sentence-only", "a lovely film"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and out.split(" (")[0] in data.LABELS and err == ""
    assert cli.main(["sst-predict", "--model", str(saved), "--no-phrases", "a lovely film"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1
    assert err.splitlines() == ["numrnn: --model is deprecated; use --checkpoint PATH",
                                "numrnn: --no-phrases is deprecated; use --sentence-only"]
    assert cli.main(["sst-predict", "--checkpoint", str(tmp_path / "nothing"), "film"]) == 2
    assert "nothing" in capsys.readouterr().err


def test_the_registrys_layer_options_are_sst_flags_and_reach_the_model(treebank, tmp_path, monkeypatch,
                                                                       capsys):
    from numrnn.nn import CELLS
    from numrnn.training.model import layer_options
    with pytest.raises(SystemExit):
        sst.main(["sst", "--help"])
    text = capsys.readouterr().out
    for option in {name for cell in CELLS for name in layer_options(cell)}:
        assert "--" + option.replace("_", "-") + " " in text, option
    monkeypatch.setattr(sst, "plot", lambda *args: None)
    args = ["sst", "--sst-dir", str(treebank), "--versions", "A", "--seeds", "0", "--embed-size", "4",
            "--hidden-size", "3", "--epochs", "1", "--workers", "1", "--reg", "on", "--quiet",
            "--out", str(tmp_path), "--name", "fb"]
    assert sst.main(args + ["--cells", "rnn", "lstm", "--forget-bias", "2.5", "--scale", "0.5"]) == 0
    runs = {r["config"]["cell"]: r["config"] for r in json.loads((tmp_path / "results" / "fb.json").read_text())["runs"]}
    assert runs["lstm"]["options"] == {"forget_bias": 2.5} and "options" not in runs["rnn"]
    assert runs["lstm"]["scale"] == runs["rnn"]["scale"] == 0.5
    vocab, _ = sst.load(treebank, TINY)
    model, _ = sst.build_model(sst.Config(cell="lstm", options={"forget_bias": 2.5}), vocab)
    assert model.layer.forget_bias == 2.5
    assert sst.main(args + ["--cells", "rnn", "--forget-bias", "2"]) == 2
    assert "--forget-bias does not apply to any cell of --cells rnn" in capsys.readouterr().err


def test_a_learned_skip_scale_is_trained_and_its_final_value_is_in_the_json_and_the_table(
        treebank, tmp_path, monkeypatch):
    monkeypatch.setattr(sst, "plot", lambda *args: None)
    args = ["sst", "--sst-dir", str(treebank), "--cells", "rnn", "--versions", "C", "--seeds", "0",
            "--embed-size", "4", "--hidden-size", "3", "--epochs", "2", "--workers", "1", "--reg", "on",
            "--lr", "0.05", "--quiet", "--out", str(tmp_path), "--name", "la", "--learn-skip-scale"]
    assert sst.main(args) == 0
    (run,) = json.loads((tmp_path / "results" / "la.json").read_text())["runs"]
    assert run["config"]["options"] == {"learn_skip_scale": True}
    (name, alpha), = run["skip_scale_final"].items()
    assert name == "layer.alpha" and alpha != 1.0            # trained: Adam moved it from its start
    table = (tmp_path / "results" / "la.md").read_text()
    assert f"its final value per run: rnn-C-reg-seed0 {alpha:.3f}." in table
    assert sst.main(args[:-1] + ["--name", "fixed"]) == 0        # a fixed alpha: no such record
    (fixed,) = json.loads((tmp_path / "results" / "fixed.json").read_text())["runs"]
    assert "skip_scale_final" not in fixed and "Learned skip scale" not in (tmp_path / "results" / "fixed.md").read_text()


def test_resume_skips_finished_runs(treebank, tmp_path, monkeypatch):
    args = ["sst", "--sst-dir", str(treebank), "--cells", "rnn", "--versions", "A", "--seeds", "0",
            "--embed-size", "4", "--hidden-size", "3", "--epochs", "1", "--workers", "1",
            "--out", str(tmp_path), "--name", "r", "--reg", "on"]
    monkeypatch.setattr(sst, "plot", lambda *args: None)            # figures: tested above
    assert sst.main(args) == 0
    monkeypatch.setattr(sst, "run_config", lambda *a, **k: pytest.fail("a finished run was repeated"))
    assert sst.main(args + ["--resume"]) == 0
    result = json.loads((tmp_path / "results" / "r.json").read_text())
    assert len(result["runs"]) == 1
    assert result["commands"] == [" ".join(["numrnn", *args]), " ".join(["numrnn", *args, "--resume"])]


def test_resume_keeps_what_the_file_said_of_its_earlier_runs_environment(treebank, tmp_path, monkeypatch):
    args = ["sst", "--sst-dir", str(treebank), "--cells", "rnn", "--versions", "A",
            "--embed-size", "4", "--hidden-size", "3", "--epochs", "1", "--workers", "1",
            "--out", str(tmp_path), "--name", "r", "--reg", "on"]
    monkeypatch.setattr(sst, "plot", lambda *args: None)            # figures: tested above
    assert sst.main(args + ["--seeds", "0"]) == 0
    path = tmp_path / "results" / "r.json"
    old = json.loads(path.read_text())
    assert old["runs"][0]["environment"]["blas_threads_per_run"] == 1      # each run records its own
    for run in old["runs"]:                                 # as a file written before runs recorded it
        del run["environment"]
    del old["environment"]
    old["environment_not_recorded"] = "Environment not recorded: made on another machine."
    path.write_text(json.dumps(old))
    assert sst.main(args + ["--seeds", "0", "1", "--resume"]) == 0
    new = json.loads(path.read_text())
    assert [("environment" in r) for r in new["runs"]] == [False, True]
    assert new["environment_not_recorded"] == old["environment_not_recorded"]
    table = (tmp_path / "results" / "r.md").read_text()
    assert "Environment: " in table
    assert ("1 of the 2 runs (seeds 0) were made by an earlier command, before runs recorded their own "
            "environment; the line above is not theirs. Environment not recorded: made on another machine.") in table
    assert sst.main(args + ["--seeds", "0", "1", "2", "--resume"]) == 0    # an earlier record is kept too
    assert json.loads(path.read_text())["earlier_environments"] == [new["environment"]]


def test_resume_refuses_a_damaged_results_file_by_name(treebank, tmp_path, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text('{"command": "numrnn sst", "runs": [{"na')   # cut short
    assert sst.main(["sst", "--sst-dir", str(treebank), "--workers", "1", "--out", str(tmp_path),
                     "--name", "r", "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"--resume: {tmp_path / 'results' / 'r.json'} is not a readable results file" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv,message", [
    (["--versions", "E"], "argument --versions: invalid choice: 'E'"),
    (["--cells", "elman"], "argument --cells: invalid choice: 'elman'"),
    (["--workers", "0"], "argument --workers: must be >= 1"),
    (["--dropout", "1"], "argument --dropout: must lie in [0, 1)"),
    (["--lr", "-1"], "argument --lr: must lie in (0, inf)"),
    (["--seeds", "0", "-2"], "argument --seeds: must be >= 0"),
    (["--clip", "inf"], "argument --clip: must be a finite number"),
])
def test_bad_flags_are_named(argv, message, capsys):
    assert sst.main(["sst", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_arguments_are_named(treebank, tmp_path, capsys):
    assert sst.main(["sst", "--sst-dir", str(tmp_path / "nowhere"), "--workers", "1",
                     "--out", str(tmp_path)]) == 2
    assert "train.txt" in capsys.readouterr().err
    vocab, _ = sst.load(treebank, TINY)
    with pytest.raises(ValueError, match="cell"):
        sst.build_model(replace(TINY, cell="elman"), vocab)
    with pytest.raises(ValueError, match="not an SST model|does not exist"):
        sp.load_model(tmp_path / "nothing")


# ------------------------------------------------- pooling, bidirectional, cost, --quick, partial
def test_readout_and_bidirectional_flags_reach_the_model_and_the_table(treebank, tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.setattr(sst, "plot", lambda *args: None)
    args = ["sst", "--sst-dir", str(treebank), "--cells", "rnn", "--versions", "A", "--seeds", "0",
            "--embed-size", "4", "--hidden-size", "3", "--epochs", "1", "--workers", "1", "--reg", "on",
            "--out", str(tmp_path), "--name", "bi", "--readout", "mean", "--bidirectional"]
    assert sst.main(args) == 0
    run = json.loads((tmp_path / "results" / "bi.json").read_text())["runs"][0]
    assert run["name"] == "rnn-A-reg-mean-bi-seed0"
    assert run["config"]["pool"] == "mean" and run["config"]["bidirectional"] is True
    V = len(sst.load(treebank, TINY)[0])
    one_layer = 3 * 3 + 3 * 4 + 3                       # W1 (H x H), Wx (H x D), b
    assert run["n_params_parts"] == {"recurrent": 2 * one_layer, "embedding": V * 4, "readout": 5 * (2 * 3 + 1)}
    assert sum(run["n_params_parts"].values()) == run["n_params"]
    table = (tmp_path / "results" / "bi.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| RNN A mean bi | reg | 0 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[7:9] == [f"{2 * one_layer:,}", f"{V * 4:,}"]        # recurrent, embedding params
    minutes = run["total_cpu_seconds"] / 60
    assert float(cells[12]) == pytest.approx(100 * run["test_acc"] / minutes, rel=0.01, abs=0.01)
    assert "Partial" not in table
    assert sst.main([*args[:-3], "--name", "old", "--pool", "mean", "--bidirectional"]) == 0   # old spelling
    assert capsys.readouterr().err == "numrnn: --pool is deprecated; use --readout\n"
    assert json.loads((tmp_path / "results" / "old.json").read_text())["runs"][0]["config"]["pool"] == "mean"


def test_an_interrupted_grid_leaves_a_partial_table_that_says_how_to_continue(treebank, tmp_path, monkeypatch):
    plotted = []
    monkeypatch.setattr(sst, "plot", lambda folder, runs, header: plotted.append([r["name"] for r in runs]))
    monkeypatch.setenv(data.ENV_VAR, str(treebank))
    args = ["sst", "--cells", "rnn", "--versions", "A", "D", "--seeds", "0", "--embed-size", "4",
            "--hidden-size", "3", "--epochs", "1", "--workers", "1", "--reg", "on", "--out", str(tmp_path),
            "--name", "p"]
    real, calls = sst.run_config, []

    def second_is_interrupted(config, *a, **k):
        calls.append(config.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(config, *a, **k)
    monkeypatch.setattr(sst, "run_config", second_is_interrupted)
    assert sst.main(args) == 130
    assert plotted == [["rnn-A-reg-seed0"]]           # the figures show the run that finished
    table = (tmp_path / "results" / "p.md").read_text()
    command = " ".join(["numrnn", *args, "--resume"])
    assert f"**Partial: 1 of 2 runs; continue with `{command}`.**" in table
    assert "Data: `$NUMRNN_SST_DIR`" in table and str(treebank) not in table     # the path as typed
    monkeypatch.setattr(sst, "run_config", real)
    assert sst.main(args + ["--resume"]) == 0
    table = (tmp_path / "results" / "p.md").read_text()
    assert "Partial" not in table and "| RNN A | reg | 0 |" in table and "| RNN D | reg | 0 |" in table


def test_quick_trains_one_small_model_on_a_subset(treebank, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sst, "plot", lambda *args: None)
    many = [f"({i % 5} (2 film) ({i % 5} w{i}))" for i in range(1500)]     # 1500 sentences, 4500 phrases
    big = sst_samples.write_treebank(tmp_path / "big", train=many, dev=many[:400])
    assert sst.main(["sst", "--quick", "--sst-dir", str(big), "--out", str(tmp_path), "--embed-size", "4",
                     "--hidden-size", "3"]) == 0
    results = tmp_path / "results"
    assert f"1 runs: {results / 'sst_quick'}.md, {results / 'sst_quick'}.json, {tmp_path / 'figures' / 'sst' / 'quick'}/" \
        in capsys.readouterr().out
    run = json.loads((results / "sst_quick.json").read_text())["runs"][0]
    config = run["config"]
    assert run["name"] == "rnn-D-reg-seed0" and config["phrases"] is True
    assert (config["train_subset"], config["dev_subset"], config["epochs"]) == \
        (sst.QUICK["train_subset"], sst.QUICK["dev_subset"], 5)
    assert (f"{sst.QUICK['train_subset']} training examples, {sst.QUICK['dev_subset']} dev sentences"
            in (results / "sst_quick.md").read_text())
    vocab_splits = sst.load(big, sst.Config(phrases=True))
    _, splits = sst.subset(vocab_splits, replace(sst.Config(), train_subset=1000, dev_subset=300))
    _, again = sst.subset(vocab_splits, replace(sst.Config(seed=5), train_subset=1000, dev_subset=300))
    assert len(splits["train"][0]) == 1000 and len(splits["dev"][0]) == 300
    assert len(splits["test"][0]) == len(vocab_splits[1]["test"][0])          # test stays whole
    assert all(np.array_equal(a, b) for a, b in zip(splits["train"][0], again["train"][0]))  # one subset


# ------------------------------------------------------------------ sst-predict, phrase by phrase
@pytest.fixture
def saved(loaded, tmp_path):
    vocab, splits = loaded
    model, _ = sst.train(TINY, splits, vocab)
    sp.save_model(tmp_path / "m", model, vocab)
    return model, vocab, str(tmp_path / "m")


def test_predict_shows_each_phrase_of_a_treebank_sentence_with_its_label(saved, treebank, capsys):
    model, vocab, path = saved
    args = argparse.Namespace(checkpoint=path, text=["It's a lovely film."], sst_dir=str(treebank),
                              sentence_only=False)
    sp.run(args)
    out = capsys.readouterr().out.splitlines()
    tree = data.parse_tree(sst_samples.TRAIN[0])
    nodes = list(tree.nodes())
    assert "each phrase of the treebank's parse tree (train.txt line 1)" in out[1]
    rows = out[3:3 + len(nodes)]
    predicted, _ = sp.predict_many(model, vocab, [n.leaves() for n in nodes])
    for row, node, label in zip(rows, nodes, predicted):
        assert row.split("  ")[1].strip() == data.LABELS[label]           # the model's class
        assert data.LABELS[node.label] in row and row.endswith(" ".join(node.leaves()))
    assert rows[0].endswith("It 's a lovely film .") and rows[-1].endswith("    .")   # "." at depth 2
    agree = sum(int(label) == n.label for label, n in zip(predicted, nodes))
    assert out[-1] == f"  the model agrees with the treebank on {agree} of {len(nodes)} phrases"


def test_predict_shows_the_prefixes_of_free_text(saved, treebank, tmp_path, capsys):
    model, vocab, path = saved
    sp.run(argparse.Namespace(checkpoint=path, text=["a", "dull", "plot"], sst_dir=str(treebank),
                              sentence_only=False))
    out = capsys.readouterr().out.splitlines()
    assert "each prefix (free text has no parse tree; the sentence is not in the treebank)" in out[1]
    predicted, probs = sp.predict_many(model, vocab, [["a"], ["a", "dull"], ["a", "dull", "plot"]])
    assert out[3:] == [f"  {data.LABELS[l]:<14} {p:.2f}  {' '.join(['a', 'dull', 'plot'][:n + 1])}"
                       for n, (l, p) in enumerate(zip(predicted, probs))]
    assert out[0].startswith(data.LABELS[predicted[-1]])     # the whole sentence is the last prefix
    sp.run(argparse.Namespace(checkpoint=path, text=["a dull plot"], sst_dir=str(tmp_path / "none"),
                              sentence_only=False))
    assert f"no treebank at {tmp_path / 'none'}" in capsys.readouterr().out
    sp.run(argparse.Namespace(checkpoint=path, text=["a dull plot"], sst_dir=None, sentence_only=True))
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_the_grid_trains_one_seed_of_every_model_before_the_next_seed():
    configs = sst.grid(["rnn", "lstm"], ["A", "D"], [True], [2, 0], TINY)
    assert [(c.seed, c.cell, c.version) for c in configs] == [
        (2, "lstm", "A"), (2, "lstm", "D"), (2, "rnn", "A"), (2, "rnn", "D"),
        (0, "lstm", "A"), (0, "lstm", "D"), (0, "rnn", "A"), (0, "rnn", "D")]
