"""The progress bar numrnn draws: ``tqdm.auto``'s choice, except in a notebook without ipywidgets.

In a Jupyter kernel ``tqdm.auto`` draws its widget bar; without ipywidgets (a plain
``pip install numrnn``) it warns "IProgress not found" and falls back to its text bar on stderr,
which Jupyter shows in red. There numrnn takes tqdm's text bar on stdout directly: no warning, no
stderr. In a terminal (no kernel) nothing changes.
"""
import importlib.util
import sys


def in_kernel():
    """True inside a Jupyter kernel (the test ``tqdm.autonotebook`` itself makes)."""
    return "ipykernel.zmqshell" in sys.modules


def has_widgets():
    """True when ipywidgets can be imported (False when blocked by ``sys.modules['ipywidgets'] = None``)."""
    try:
        return importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):
        return False


if in_kernel() and not has_widgets():
    from tqdm.std import tqdm as _text_bar

    def tqdm(*args, **kwargs):
        """tqdm's text bar, written to stdout (the notebook's ordinary output)."""
        kwargs.setdefault("file", sys.stdout)
        return _text_bar(*args, **kwargs)
else:
    from tqdm.auto import tqdm  # noqa: F401
