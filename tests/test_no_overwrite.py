"""A student's work is never overwritten (issue 21): ``numrnn course notebooks OUT`` refuses a
notebook someone edited, ``course init`` a non-empty folder; ``--force`` first moves the edited
files to a timestamped backup folder beside the target (numrnn._io.back_up)."""
import datetime
import shutil
from pathlib import Path

import nbformat
import pytest

from numrnn._io import back_up
from numrnn.cli import main

ROOT = Path(__file__).resolve().parent.parent
STUDENT = "student/02_bptt_by_hand_student.ipynb"
ANSWER = "# my answer to task 2, three hours of work"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out + out.err


def edit_like_jupyter(path):
    """What saving in Jupyter after answering a blank does: a cell's source changes."""
    nb = nbformat.read(path, as_version=4)
    blank = next(c for c in nb.cells if c.cell_type == "code" and "# YOUR CODE HERE" in c.source)
    blank.source = ANSWER + "\n" + blank.source
    nbformat.write(nb, path)


def backups(tmp_path, name):
    return sorted(p for p in tmp_path.iterdir() if p.name.startswith(f"{name}-backup-"))


@pytest.fixture
def handout(tmp_path, capsys):
    assert run(capsys, "course", "notebooks", tmp_path / "hw")[0] == 0
    return tmp_path / "hw"


def test_an_edited_notebook_is_refused_by_name_and_left_alone(handout, capsys):
    edit_like_jupyter(handout / STUDENT)
    before = (handout / STUDENT).read_bytes()
    code, text = run(capsys, "course", "notebooks", handout)
    assert code == 2
    assert str(handout / STUDENT) in text and "changed since numrnn wrote" in text and "--force" in text
    assert "05_lstm_student" not in text                      # only the edited one is named
    assert (handout / STUDENT).read_bytes() == before


def test_force_moves_the_edited_notebook_to_a_backup_first(tmp_path, handout, capsys):
    edit_like_jupyter(handout / STUDENT)
    code, text = run(capsys, "course", "notebooks", handout, "--force")
    assert code == 0
    (backup,) = backups(tmp_path, "hw")
    assert f"moved the edited notebooks to {backup}" in text
    assert sorted(p.relative_to(backup).as_posix() for p in backup.rglob("*") if p.is_file()) == [STUDENT]
    assert ANSWER in (backup / STUDENT).read_text()           # the student's work, kept
    assert ANSWER not in (handout / STUDENT).read_text()      # a fresh copy in its place


def test_unedited_notebooks_are_rewritten_freely(tmp_path, handout, capsys):
    """Running a notebook (outputs) is not editing it; a new --source restamps what numrnn wrote."""
    nb = nbformat.read(handout / "01_forward_by_hand.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="numrnn 0.1.0: ...\n")]
    nbformat.write(nb, handout / "01_forward_by_hand.ipynb")
    code, _ = run(capsys, "course", "notebooks", handout, "--source", "git+https://github.com/a/numrnn.git@v1")
    assert code == 0 and backups(tmp_path, "hw") == []
    assert "git+https://github.com/a/numrnn.git@v1" in (handout / STUDENT).read_text()


def test_a_file_numrnn_did_not_write_is_refused(tmp_path, capsys):
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw" / "01_forward_by_hand.ipynb").write_text("my own notes, not a notebook")
    code, text = run(capsys, "course", "notebooks", tmp_path / "hw")
    assert code == 2 and "01_forward_by_hand.ipynb" in text
    assert (tmp_path / "hw" / "01_forward_by_hand.ipynb").read_text() == "my own notes, not a notebook"


def test_restamping_the_notebooks_in_place(tmp_path, capsys):
    """The repository's own folder: the solution notebooks are the inputs, never someone's edit."""
    copy = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy)
    code, _ = run(capsys, "course", "notebooks", copy, "--from", copy, "--source", "git+https://github.com/b/c@v2")
    assert code == 0 and backups(tmp_path, "notebooks") == []
    assert "'git+https://github.com/b/c@v2'" in (copy / "04_synthetic_task.ipynb").read_text()


def test_course_init_force_backs_up_changed_files_only(tmp_path, capsys):
    hw = tmp_path / "hw"
    assert run(capsys, "course", "init", hw)[0] == 0
    (hw / "rnn_step.py").write_text((hw / "rnn_step.py").read_text() + "\n# my work\n")
    (hw / "notes.txt").write_text("mine")
    code, text = run(capsys, "course", "init", hw)
    assert code == 2 and "is not empty" in text and "--force" in text
    code, text = run(capsys, "course", "init", hw, "--force")
    assert code == 0
    (backup,) = backups(tmp_path, "hw")
    assert f"moved the files you had changed to {backup}" in text
    assert [p.name for p in backup.iterdir()] == ["rnn_step.py"]        # unchanged files need no copy
    assert "# my work" in (backup / "rnn_step.py").read_text()
    assert "# my work" not in (hw / "rnn_step.py").read_text()
    assert (hw / "notes.txt").read_text() == "mine"                      # not a course file: untouched


def test_back_up_keeps_paths_and_never_reuses_a_folder(tmp_path):
    folder = tmp_path / "out"
    (folder / "student").mkdir(parents=True)
    now = datetime.datetime(2026, 12, 7, 3, 4, 5)
    assert back_up(folder, ["missing.ipynb"], now) is None
    for text in ("first", "second"):
        (folder / "student" / "a.ipynb").write_text(text)
        back_up(folder, ["student/a.ipynb", "missing.ipynb"], now)
    first, second = backups(tmp_path, "out")
    assert (first.name, second.name) == ("out-backup-20261207-030405", "out-backup-20261207-030405-2")
    assert (first / "student" / "a.ipynb").read_text() == "first"
    assert (second / "student" / "a.ipynb").read_text() == "second"
    assert not (folder / "student" / "a.ipynb").exists()


def test_the_old_command_into_student_is_redirected(tmp_path, capsys):
    """`numrnn course notebooks notebooks/student` used to write only the student versions."""
    copy = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy)
    code, text = run(capsys, "course", "notebooks", copy / "student", "--from", copy)
    assert code == 2 and f"numrnn course notebooks {copy}" in text
    assert sorted(p.name for p in (copy / "student").iterdir()) == sorted(
        p.name for p in (ROOT / "notebooks" / "student").iterdir())
