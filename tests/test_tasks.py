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


@pytest.mark.parametrize("make", [first_element, adding, copy_memory])
def test_seed_and_dtype_are_checked_by_every_task(make):
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        make(T=4, n_train=2, n_test=2, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        make(T=4, n_train=2, n_test=2, seed=1.5)
    with pytest.raises(TypeError, match="seed must be an integer"):
        make(T=4, n_train=2, n_test=2, seed=None)            # unseeded data would not be reproducible
    for dtype in (np.int64, "int32", np.bool_, "float16", "banana"):
        with pytest.raises(TypeError, match="dtype must be float32 or float64"):
            make(T=4, n_train=2, n_test=2, dtype=dtype)
    assert make(T=4, n_train=2, n_test=2, seed=np.int64(3), dtype="float64").x_train.dtype == np.float64


def test_bounds_must_be_finite_real_numbers_whose_range_fits_the_dtype():
    for low, high, message in [(-np.inf, 1.0, "low must be finite"), (0.0, np.nan, "high must be finite"),
                               ("0", 1.0, "low must be a real number"), (0.0, None, "high must be a real"),
                               (-1e308, 1e308, r"overflows float32"), (-1e39, 0.0, "overflows float32"),
                               (True, 2.0, "low must be a real number")]:
        with pytest.raises((TypeError, ValueError), match=message):
            first_element(T=3, n_train=2, n_test=2, low=low, high=high)
    with pytest.raises(ValueError, match="overflows float64"):
        first_element(T=3, n_train=2, n_test=2, low=-1e308, high=1e308, dtype=np.float64)
    task = first_element(T=3, n_train=50, n_test=2, low=-1e30, high=1e30)     # large but representable
    assert np.all(np.isfinite(task.x_train))


def test_make_task_names_a_wrong_argument_and_a_wrong_name():
    with pytest.raises(TypeError, match=r"task 'adding' takes no argument D; it takes T, n_train"):
        make_task("adding", T=4, D=3)
    with pytest.raises(TypeError, match="task must be a name"):
        make_task(["adding"])
    with pytest.raises(ValueError, match="unknown task 'Adding'"):
        make_task("Adding")


def test_normalised_names_a_bad_loss_and_a_zero_baseline():
    task = first_element(T=3, n_train=2, n_test=2, seed=0)
    assert task.normalised(task.baseline) == pytest.approx(1.0)
    assert np.isnan(task.normalised(float("nan")))                   # a diverged run stays visible
    with pytest.raises(TypeError, match="loss must be a real number"):
        task.normalised("0.5")
    one = first_element(T=3, n_train=2, n_test=1, seed=0)             # one test example: variance 0
    with pytest.raises(ValueError, match="baseline of 0"):
        one.normalised(0.1)


def test_a_task_too_large_to_build_names_its_sizes():
    with pytest.raises(ValueError, match=r"task 'first-element' with n_train=10+, T=10+, D=10+ is too large"):
        first_element(T=10 ** 20, D=10 ** 20, n_train=10 ** 20)
    with pytest.raises(ValueError, match=r"task 'copy' with n_train=2, T=10+ is too large"):
        copy_memory(T=10 ** 30, n_train=2, n_test=2)
