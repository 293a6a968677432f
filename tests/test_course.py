"""The course tasks: starters generated from the solutions, and each task's grader failing a
typical mistake with a diagnosis that names it (the mistakes made by editing one line of the
instructor's solution), and passing the solution."""
import os

import numpy as np
import pytest

from numrnn.course import grade_task, write_course
from numrnn.course.starter import FILES, course_files, keep_solutions, strip_solutions


def test_blocks_become_raises_that_name_the_task():
    src = ("def f(x):\n    ### BEGIN SOLUTION task 9: double x\n    y = 2 * x\n    ### END SOLUTION\n"
           "    return y\n")
    assert strip_solutions(src) == "def f(x):\n    raise NotImplementedError('task 9: double x')\n    return y\n"
    assert keep_solutions(src) == "def f(x):\n    y = 2 * x\n    return y\n"
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions("    ### BEGIN SOLUTION task 1\n    y = 1\n")


def test_every_task_has_exactly_one_blank_and_the_starter_imports():
    starter = course_files()
    blanks = {n: sum(f"NotImplementedError('task {n}:" in text or f'NotImplementedError("task {n}:' in text
                     for text in starter.values()) for n in range(1, 8)}
    assert blanks == {n: 1 for n in range(1, 8)}
    for name in FILES:
        compile(starter[name], name, "exec")
        assert "### BEGIN" not in course_files(solutions=True)[name]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("key")
    write_course(folder, solutions=True)
    return folder


def mutated(tmp_path, key, name, old, new):
    """A copy of the solutions with one line of ``name`` changed, as a student gets it wrong."""
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    for f in os.listdir(key):
        text = (key / f).read_text()
        if f == name:
            assert text.count(old) == 1, f"{old!r} not once in {name}"
            text = text.replace(old, new)
        (folder / f).write_text(text)
    return folder


def diagnosis(report):
    assert report.status == 1, report.text()
    return "\n".join(c.diagnosis for c in report.checks if not c.passed)


@pytest.mark.parametrize("task", range(1, 8))
def test_the_solutions_pass(key, task):
    report = grade_task(task, key, max_examples=5)
    assert report.passed, report.text()
    assert report.score == 1.0 and report.text().endswith("passed")


# task -> (file, the line as solved, the line as a student wrote it, words the diagnosis must contain)
MISTAKES = {
    "step without relu": (1, "rnn_step.py", "h = np.maximum(a, 0)", "h = a", ["task 1: h is wrong", "the ReLU is missing"]),
    "step W not transposed": (1, "rnn_step.py", "a = h_prev @ W.T +", "a = h_prev @ W +",
                              ["W is used without its transpose"]),
    "step backward without relu'": (2, "rnn_step.py", "da = dh * (a > 0)", "da = dh",
                                    ["dx, dh_prev, dW, dWx, db wrong", "relu' is missing"]),
    "step dW transposed": (2, "rnn_step.py", "    dW = da.T @ h_prev\n", "    dW = h_prev.T @ da\n",
                           ["dW wrong", "dW is transposed"]),
    "sequence on a step without relu": (3, "rnn_step.py", "h = np.maximum(a, 0)", "h = a",
                                  ["h(t) first differs at t=0", "the ReLU is missing"]),
    "sequence ignores start": (3, "rnn_sequence.py", "W = params[f\"W{(start + t) % n_matrices + 1}\"]",
                               "W = params[f\"W{t % n_matrices + 1}\"]",
                               ["continuing from step 3", "h first differs at local step 0 = t=3, a step of W2",
                                "version B"]),
    "sequence backward without skip": (4, "rnn_sequence.py", "dh[t - S] = dh[t - S] + dh[t]", "pass",
                                       ["dL/dh(t) is right for t > 5 and first differs at t=5",
                                        "the skip path from the skip step 7", "version C"]),
    "lstm forget gate from c(t)": (5, "lstm_step.py", "dc_total * c_prev * f * (1 - f)", "dc_total * c * f * (1 - f)",
                                   ["differ for gate f", "dz_f = dc_total * c(t-1) * f(1-f)"]),
    "lstm cell path without f": (5, "lstm_step.py", "dc_prev = dc_total * f", "dc_prev = dc_total",
                                 ["dc_prev wrong", "the cell path is not: dc(t-1) = dc_total * f"]),
    "lstm tanh' missing": (5, "lstm_step.py", "dc_total = dc + dh * o * (1 - tanh_c ** 2)",
                           "dc_total = dc + dh * o", ["gates i, f, g", "dc_total = dc + dh * o * (1 - tanh^2 c)"]),
    "lag norms reversed": (6, "grad_lag.py", "dh[T - 1 - lag]", "dh[lag]", ["the norms are in reverse order"]),
    "truncation restarts the schedule": (7, "truncated.py", "history=history, start=start)", "history=history)",
                                         ["the schedule restarts in every window", "version B"]),
    "truncation carries h(t-1) only": (7, "truncated.py", "history = np.concatenate([history, hs_w.transpose(1, 0, 2)])[-P:]",
                                       "history = np.concatenate([history, hs_w.transpose(1, 0, 2)])[-P:]; history[:-1] = 0",
                                       ["the carried state holds only h(t-1)", "version C"]),
    "truncation keeps the last window": (7, "truncated.py", "grads[name] += grads_w[name]", "grads[name] = grads_w[name]",
                                         ["only the last window's gradients are kept"]),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_typical_mistake_is_named(tmp_path, key, mistake):
    task, name, old, new, words = MISTAKES[mistake]
    folder = mutated(tmp_path, key, name, old, new)
    text = diagnosis(grade_task(task, folder, max_examples=5))
    for w in words:
        assert w in text, f"{w!r} not in:\n{text}"


def test_a_task_that_returns_the_wrong_kind_of_thing(tmp_path, key):
    folder = mutated(tmp_path, key, "rnn_step.py", 'return {"x": dx, "h_prev": dh_prev, "W": dW, "Wx": dWx, "b": db}',
                     "return dx, dh_prev, dW, dWx, db")
    text = diagnosis(grade_task(2, folder))
    assert ("task 2: rnn_step_backward must return a dict with the keys x, h_prev, W, Wx, b (the gradients "
            "with respect to x_t, h_prev, W, Wx, b), got a tuple of 5") in text
    folder = mutated(tmp_path, key, "grad_lag.py", "return norms", "return norms.astype(np.float32)")
    assert "task 6: norms has dtype float32, expected float64" in diagnosis(grade_task(6, folder))


# A student's own answers, written from the starter's docstrings alone (not from the solutions):
# different names, a dict cache, grads built with dict.get, a while loop over the windows.
FROM_SCRATCH = {
    1: """
pre = h_prev @ W.T + x_t @ Wx.T + b
h = np.where(pre > 0, pre, 0.0)
cache = {"x": x_t, "h_prev": h_prev, "W": W, "Wx": Wx, "pre": pre}
""",
    2: """
da = dh * (cache["pre"] > 0).astype(dh.dtype)
dx, dh_prev = da @ cache["Wx"], da @ cache["W"]
dW, dWx, db = da.T @ cache["h_prev"], da.T @ cache["x"], np.sum(da, axis=0)
""",
    3: """
step_caches, outs = [], []
for t in range(T):
    k = (start + t) % n_matrices + 1
    ht, c = rnn_step_forward(x[:, t, :], h[t - 1], params["W%d" % k], params["Wx"], params["b"])
    is_skip = skip >= 2 and (start + t + 1) % skip == 0
    if is_skip:
        ht = ht + h[t - skip]
    h[t] = ht
    step_caches.append((c, k, is_skip))
    outs.append(ht)
hs = np.stack(outs, axis=1)
cache = {"steps": step_caches, "S": skip, "P": P, "D": x.shape[2], "names": list(params)}
""",
    4: """
B, T, H = dhs.shape
S, P = cache["S"], cache["P"]
dh = {t: np.zeros((B, H), dtype=dhs.dtype) for t in range(-P, T)}
for t in range(T):
    dh[t] += dhs[:, t, :]
grads = {}
dx = np.zeros((B, T, cache["D"]), dtype=dhs.dtype)
for t in range(T - 1, -1, -1):
    c, k, is_skip = cache["steps"][t]
    if is_skip:
        dh[t - S] = dh[t - S] + dh[t]
    d = rnn_step_backward(dh[t], c)
    dx[:, t, :] = d["x"]
    dh[t - 1] = dh[t - 1] + d["h_prev"]
    grads["W%d" % k] = grads.get("W%d" % k, 0) + d["W"]
    grads["Wx"] = grads.get("Wx", 0) + d["Wx"]
    grads["b"] = grads.get("b", 0) + d["b"]
for name in cache["names"]:
    grads.setdefault(name, np.zeros((H, H), dtype=dhs.dtype))
""",
    5: """
tc = np.tanh(c)
dct = dc + dh * o * (1 - tc * tc)
dz = np.hstack([dct * g * i * (1 - i), dct * c_prev * f * (1 - f), dct * i * (1 - g * g),
                dh * tc * o * (1 - o)])
dc_prev = dct * f
dx, dh_prev, dW, dWx, db = dz @ Wx, dz @ W, dz.T @ h_prev, dz.T @ x_t, dz.sum(0)
""",
    6: """
hs, cache = rnn_forward(x, params, n_matrices, skip, h0=h0)
dhs = np.zeros(hs.shape)
dhs[:, T - 1, :] = dlast
_, _, dh = rnn_backward(dhs, cache)
norms = np.array([np.sqrt(np.sum(dh[T - 1 - lag] ** 2)) for lag in range(T)])
""",
    7: """
t0 = 0
while t0 < T:
    t1 = min(T, t0 + window)
    hw, cw = rnn_forward(x[:, t0:t1], params, n_matrices, skip, history=history, start=t0)
    _, gw, _ = rnn_backward(dhs[:, t0:t1], cw)
    for name in grads:
        grads[name] = grads[name] + gw[name]
    outputs.append(hw)
    everything = np.concatenate([history, np.transpose(hw, (1, 0, 2))], axis=0)
    history = everything[everything.shape[0] - P:]
    t0 = t1
""",
}


def test_a_student_written_from_the_starter_alone_passes(tmp_path):
    folder = tmp_path / "hw"
    write_course(folder)
    for name in FILES:
        lines = []
        for line in (folder / name).read_text().splitlines(keepends=True):
            task = next((n for n in FROM_SCRATCH if f"NotImplementedError('task {n}:" in line
                         or f'NotImplementedError("task {n}:' in line), None)
            if task is None:
                lines.append(line)
                continue
            indent = line[:len(line) - len(line.lstrip())]
            lines += [indent + code + "\n" for code in FROM_SCRATCH[task].strip("\n").splitlines()]
        (folder / name).write_text("".join(lines))
    for task in range(1, 8):
        report = grade_task(task, folder, max_examples=5)
        assert report.passed, report.text()
    from numrnn.course import grade_cell
    assert grade_cell(str(folder / "rnn_sequence.py"), "SkipRNN", max_examples=5).passed
