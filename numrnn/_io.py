"""Atomic file writes: a reader sees either the old file or the whole new one, never half of it.

Every file numrnn writes (checkpoints, result tables, journals, figures) goes through
:func:`atomic_write`: the content is written to a temporary file in the target's folder, flushed to
disk, given the mode a plain ``open(path, "w")`` would give, and moved onto the target with
``os.replace`` (atomic on POSIX and Windows); on POSIX the folder is then synced too, so the rename
itself survives a power cut. On any error, or an interrupt, the temporary file is removed and the
old target is untouched.

A process killed outright (SIGKILL, a power cut) cannot remove its temporary file. Temporary files
are named ``.numrnn-tmp-<pid>-<random>-<target name>``, and the next write to the same target
removes those whose process no longer runs.
"""
import os
import re
import shutil
import tempfile

TMP_PREFIX = ".numrnn-tmp-"


def default_file_mode():
    """0o666 less the process umask: the mode an ordinary ``open(path, "w")`` would give."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_path(name, path, kind="file"):
    """``path`` as a str; a TypeError naming ``name`` unless it is a str or os.PathLike of str.

    With ``kind="file"``, an existing folder at ``path`` is an IsADirectoryError that says so.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__} "
                        f"{path!r}") from None
    if not isinstance(path, str):
        raise TypeError(f"{name} must be a str path, got {type(path).__name__} {path!r}")
    if not path:
        raise ValueError(f"{name} is empty; give the path of a {kind}")
    if kind == "file" and os.path.isdir(path):
        raise IsADirectoryError(f"{name} {path!r} is a directory; give the path of a file")
    return path


def remove_stale_temporaries(path):
    """Remove the temporary files that killed writers of ``path`` left in its folder.

    Only files named by :func:`atomic_write` for this target whose process is gone are removed
    (a live writer's file is left alone). POSIX only; elsewhere nothing is removed. Returns the
    removed paths.
    """
    if os.name != "posix":
        return []
    folder, name = os.path.split(os.path.abspath(path))
    pattern = re.compile(re.escape(TMP_PREFIX) + r"(\d+)-.*-" + re.escape(name) + r"\Z", re.DOTALL)
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry)
        if match and not _alive(int(match.group(1))):
            try:
                os.remove(os.path.join(folder, entry))
                removed.append(os.path.join(folder, entry))
            except OSError:
                pass                                 # gone already, or not ours to remove
    return removed


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True                                  # someone else's process (or not a pid): keep
    return True


def atomic_write(path, write, mode="wb"):
    """Call ``write(file)`` on a temporary file next to ``path``, then move it onto ``path``.

    The target's folder is created when missing; a folder at ``path`` itself is an
    IsADirectoryError naming it. Temporary files of killed earlier writes to ``path`` are removed
    first. Returns ``path``.
    """
    path = check_path("path", path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TMP_PREFIX}{os.getpid()}-",
                               suffix="-" + os.path.basename(path))
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
    _sync_folder(folder)
    return path


def _sync_folder(folder):
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path, text):
    """Write the string ``text`` to ``path`` atomically (UTF-8). Returns ``path``."""
    return atomic_write(path, lambda f: f.write(text), mode="w")


def save_figure(fig, path, dpi=110):
    """Write a matplotlib figure as PNG to ``path`` atomically (folder created). Returns ``path``."""
    if not callable(getattr(fig, "savefig", None)):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 0 < dpi < float("inf"):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight"))


def back_up(folder, names, now=None):
    """Move the files ``names`` (paths relative to ``folder``) into a new timestamped backup folder.

    The backup folder sits beside ``folder``, named ``<folder>-backup-YYYYmmdd-HHMMSS`` (``-2``,
    ``-3`` ... when that exists), so nothing is left inside ``folder`` that a later command or a
    ``pytest`` run there would pick up; the relative paths are kept. Names that do not exist are
    skipped. Used before a ``--force`` overwrites a student's files (``numrnn course init``,
    ``numrnn course notebooks``). Returns the backup folder, or None when there was nothing to move.
    """
    import datetime

    folder = os.path.abspath(os.fspath(folder))
    present = [name for name in names if os.path.lexists(os.path.join(folder, name))]
    if not present:
        return None
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{folder.rstrip(os.sep)}-backup-{stamp}"
    backup, n = base, 1
    while True:
        try:
            os.makedirs(backup)
            break
        except FileExistsError:
            n += 1
            backup = f"{base}-{n}"
    for name in present:
        target = os.path.join(backup, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(os.path.join(folder, name), target)
    return backup
