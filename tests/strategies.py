"""Hypothesis strategies shared by the gradient-check tests."""
import numpy as np
from hypothesis import strategies as st

#: Settings of the paper's generalised recurrence: K matrices, skip period S (S > T included).
schedules = st.fixed_dictionaries({
    "n_matrices": st.integers(1, 4),
    "skip": st.integers(0, 5),
})

sizes = st.fixed_dictionaries({
    "batch": st.integers(1, 3),
    "steps": st.integers(1, 12),
    "input_size": st.integers(1, 4),
    "hidden_size": st.integers(1, 5),
})

seeds = st.integers(0, 2**32 - 1)


def random_inputs(seed, batch, steps, input_size, hidden_size):
    """Seeded float64 x (B, T, D) and h0 (B, H)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, steps, input_size)), rng.standard_normal((batch, hidden_size))
