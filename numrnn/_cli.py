"""What every command line of numrnn shares at the ground floor: the exit statuses and the flag
types that name the flag in their error.

Both the experiments' commands (:mod:`numrnn.experiments.common`, which re-exports these) and the
course's ``check``/``course`` commands (:mod:`numrnn.course.cli`) use them, so they live below both.
"""
import argparse
import math

#: The exit statuses of every numrnn command (also in ``numrnn --help`` and the README).
EXIT_OK = 0
#: The command ran and its verdict is no: a check failed; a training run diverged and stopped
#: cleanly with the last good parameters (saved where the command saves).
EXIT_NO = 1
#: Bad input or usage: a flag, an unknown name, an unreadable or malformed file.
EXIT_BAD_INPUT = 2
#: An internal error of numrnn (a bug; the message says so).
EXIT_INTERNAL = 3
#: A training run diverged: a "no" verdict.
EXIT_DIVERGED = EXIT_NO

EXIT_STATUSES = """exit status:
  0  the command did its job (the verdict is yes)
  1  it ran and the verdict is no: a check failed, or a training run diverged and
     stopped cleanly with the last good parameters (saved where the command saves)
  2  bad input or usage: a flag, an unknown name, an unreadable or malformed file
  3  an internal error in numrnn (the message says so; NUMRNN_DEBUG=1 shows the traceback)
  130 interrupted"""

# ------------------------------------------------------------------------------- flag types
def integer(minimum=None):
    """An argparse ``type=``: an integer >= ``minimum``; argparse names the flag in the error."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


def number(low=None, high=None, low_open=False, high_open=False):
    """An argparse ``type=``: a finite float in the range (bounds excluded when ``*_open``)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if (low is not None and (value < low or (low_open and value == low))) or \
                (high is not None and (value > high or (high_open and value == high))):
            lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
            hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
            raise argparse.ArgumentTypeError(f"must lie in {lo}, {hi}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


#: Common flag types.
POSITIVE_INT, SEED = integer(1), integer(0)
POSITIVE, NON_NEGATIVE = number(low=0, low_open=True), number(low=0)
FRACTION = number(low=0, high=1, high_open=True)
