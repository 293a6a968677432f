"""Atomic file writes: a reader sees either the old file or the whole new one, never half of it.

Every file numrnn writes (checkpoints, result tables, journals, figures) goes through
:func:`atomic_write`: the content is written to a temporary file in the target's folder, flushed to
disk, given the mode a plain ``open(path, "w")`` would give, and moved onto the target with
``os.replace`` (atomic on POSIX and Windows). On any error, or an interrupt, the temporary file is
removed and the old target is untouched.
"""
import os
import tempfile


def default_file_mode():
    """0o666 less the process umask: the mode an ordinary ``open(path, "w")`` would give."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path, write, mode="wb"):
    """Call ``write(file)`` on a temporary file next to ``path``, then move it onto ``path``.

    The target's folder is created when missing. Returns ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())           # mkstemp makes 0600; use what open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_text(path, text):
    """Write the string ``text`` to ``path`` atomically (UTF-8). Returns ``path``."""
    return atomic_write(path, lambda f: f.write(text), mode="w")


def save_figure(fig, path, dpi=110):
    """Write a matplotlib figure as PNG to ``path`` atomically (folder created). Returns ``path``."""
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight"))
