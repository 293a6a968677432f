"""The README's "Five lines" script, extracted from README.md and run verbatim."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def five_lines():
    """The python block of the README's "## Five lines" section."""
    section = README.read_text().split("\n## Five lines\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_five_line_script_trains_and_saves_a_model(tmp_path, monkeypatch):
    script = five_lines()
    assert len(script.strip().splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(script, str(README) + ":Five lines", "exec"), namespace)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first-element-C.json", "first-element-C.npz"]
    import numrnn
    loaded = numrnn.load_checkpoint("first-element-C").model
    model, task = namespace["model"], namespace["task"]
    assert loaded.config["n_matrices"] == 1 and loaded.config["skip"] == 2        # version C
    np.testing.assert_array_equal(loaded.predict(task.x_test), model.predict(task.x_test))
    fresh = numrnn.SequenceModel(task.input_size, 16, task.output_size, version="C", readout_init="zeros", seed=0)
    assert not np.array_equal(fresh.params["layer.W1"], model.params["layer.W1"])   # it trained
