"""Synthetic tasks: targets as defined, seeded, baselines measured and checked, bad sizes."""
import numpy as np
import pytest

from numrnn.nn.losses import softmax_cross_entropy
from numrnn.data.tasks import adding, copy_memory, first_element, make_task


def test_first_element_target_is_the_first_entry_of_the_first_input():
    task = first_element(T=7, D=3, n_train=50, n_test=20, seed=1)
    assert task.x_train.shape == (50, 7, 3) and task.y_train.shape == (50, 1)
    assert task.x_test.shape == (20, 7, 3)
    np.testing.assert_array_equal(task.y_train[:, 0], task.x_train[:, 0, 0])
    np.testing.assert_array_equal(task.y_test[:, 0], task.x_test[:, 0, 0])
    assert task.x_train.min() >= -1 and task.x_train.max() <= 1
    assert (task.loss, task.readout, task.input_size, task.output_size) == ("mse", "last", 3, 1)


def test_first_element_baseline_is_the_variance_of_the_target():
    task = first_element(T=2, D=1, n_train=1, n_test=20000, seed=0)
    assert task.baseline == pytest.approx(np.var(task.y_test), rel=1e-6)
    assert task.baseline == pytest.approx(1 / 3, rel=0.03)          # Var U[-1, 1]
    always_mean = np.mean((task.y_test - task.y_test.mean()) ** 2)
    assert task.normalised(always_mean) == pytest.approx(1.0, rel=1e-5)


def test_same_seed_same_bits_and_test_set_independent_of_training_size():
    a = first_element(T=5, n_train=30, n_test=10, seed=3)
    b = first_element(T=5, n_train=30, n_test=10, seed=3)
    c = first_element(T=5, n_train=60, n_test=10, seed=3)
    d = first_element(T=5, n_train=30, n_test=10, seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.x_test, c.x_test)
    assert not np.array_equal(a.x_train, d.x_train)
    assert not np.array_equal(a.x_train[:10], a.x_test)


def test_adding_marks_one_step_in_each_half_and_sums_the_marked_values():
    task = adding(T=10, n_train=200, n_test=5000, seed=2)
    x, y = task.x_train, task.y_train
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :5].sum(axis=1) == 1) and np.all(markers[:, 5:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert task.baseline == pytest.approx(1 / 6, rel=0.06)


def test_copy_memory_layout_and_its_baseline_cross_entropy():
    T = 5
    task = copy_memory(T=T, n_train=40, n_test=30, seed=0)
    L = T + 20
    assert task.x_train.shape == (40, L, 10) and task.y_train.shape == (40, L)
    tokens = task.x_test.argmax(axis=-1)
    np.testing.assert_array_equal(task.x_test.sum(axis=-1), 1)          # one-hot
    assert np.all((tokens[:, :10] >= 1) & (tokens[:, :10] <= 8))
    assert np.all(tokens[:, 10:T + 9] == 0) and np.all(tokens[:, T + 9] == 9)
    assert np.all(tokens[:, T + 10:] == 0)
    np.testing.assert_array_equal(task.y_test[:, -10:], tokens[:, :10])
    assert np.all(task.y_test[:, :-10] == 0)
    # The baseline predictor: blank for T + 10 steps, then uniform over the 8 symbols.
    logits = np.full((30, L, 10), -1e9)
    logits[:, :-10, 0] = 0.0
    logits[:, -10:, 1:9] = 0.0
    ce, _ = softmax_cross_entropy(logits, task.y_test)
    assert ce == pytest.approx(task.baseline, rel=1e-9)
    assert task.baseline == pytest.approx(10 * np.log(8) / (T + 20))


def test_make_task_by_name_and_bad_sizes_name_the_argument():
    assert make_task("adding", T=4, n_train=3, n_test=2).name == "adding"
    with pytest.raises(ValueError, match="task"):
        make_task("last-element")
    with pytest.raises(ValueError, match="T must be >= 1"):
        first_element(T=0)
    with pytest.raises(ValueError, match="D must be >= 1"):
        first_element(D=0)
    with pytest.raises(ValueError, match="n_train"):
        first_element(n_train=0)
    with pytest.raises(ValueError, match="n_test"):
        copy_memory(n_test=-1)
    with pytest.raises(ValueError, match="T must be >= 2"):
        adding(T=1)
    with pytest.raises(TypeError, match="T must be an integer"):
        first_element(T=2.5)
    with pytest.raises(ValueError, match="low < high"):
        first_element(low=1.0, high=1.0)
