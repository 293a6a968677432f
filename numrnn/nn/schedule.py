"""The paper's schedule: which recurrent matrix a step uses and which steps add a skip.

With K matrices and skip period S, step t (counted from 0) uses

.. math:: W_{(t \\bmod K) + 1}

and adds :math:`h(t-S)` when :math:`(t+1) \\bmod S = 0` (never when S is 0 or 1).
On a skip step t - S >= -1, so the skip reads at most back to h(-1) = h0.
"""
from collections import namedtuple

from .._checks import check_int

Version = namedtuple("Version", ["n_matrices", "skip"])

#: The paper's versions, by name: (K matrices, skip period S).
VERSIONS = {
    "A": Version(1, 0),        # one matrix, no skip
    "B": Version(2, 0),        # W1, W2, W1, W2, ... no skip
    "C": Version(1, 2),        # one matrix, + h(t-2) every second step
    "D": Version(2, 2),        # W1/W2 in turn, + h(t-2) on the W2 steps
    "special": Version(4, 4),  # W1..W4 in turn, + h(t-4) every fourth step
}


def version(name):
    """Return the :class:`Version` (n_matrices, skip) of a paper version: "A".."D" or "special".

    Names are case-insensitive.
    """
    if not isinstance(name, str):
        raise TypeError(f"version must be a string, got {type(name).__name__}")
    key = "special" if name.lower() == "special" else name.upper()
    if key not in VERSIONS:
        raise ValueError(f"unknown version {name!r}; choose one of {list(VERSIONS)}")
    return VERSIONS[key]


def matrix_index(t, n_matrices):
    """Index k (0-based) of the recurrent matrix W_{k+1} used at step t."""
    return t % n_matrices


def is_skip_step(t, skip):
    """True when step t adds h(t - skip): (t+1) mod S == 0, for S >= 2."""
    return skip >= 2 and (t + 1) % skip == 0


def check_schedule(n_matrices, skip):
    """Validate K >= 1 and S >= 0; return them as ints."""
    return check_int("n_matrices", n_matrices, 1), check_int("skip", skip, 0)


def describe(n_matrices, skip, steps):
    """One line per step, e.g. ``t=3: W2 h(2) + skip h(1)``, to print a schedule for teaching."""
    lines = []
    for t in range(steps):
        line = f"t={t}: W{matrix_index(t, n_matrices) + 1} h({t - 1})"
        if is_skip_step(t, skip):
            line += f" + skip h({t - skip})"
        lines.append(line)
    return "\n".join(lines)
