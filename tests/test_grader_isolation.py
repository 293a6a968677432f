"""The grader against what students' code did to it (issue 21), through the real command.

Each test is one thing that was seen: the graded code ending the process with status 0, rewriting
numrnn's Report, forging the batch's JSON with an atexit hook, overwriting another student's file,
deleting the files in its working folder, hanging in a task function, swallowing the timeout, and a
batch killed halfway. The student's code now runs in a child process, in a scratch copy, under a
deadline the grader enforces, and only its arrays come back; these tests read what a person reads
(the exit status, the message, the CSV, the files left on disk).
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from numrnn.cli import main

ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def numrnn(*argv, cwd=None, timeout=300):
    out = subprocess.run([sys.executable, "-m", "numrnn", *argv], capture_output=True, text=True,
                         timeout=timeout, cwd=cwd, env=ENV)
    assert "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("key") / "key"
    assert main(["course", "init", str(folder), "--solutions"]) == 0
    return folder


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("starter") / "starter"
    assert main(["course", "init", str(folder)]) == 0
    return folder


def copy(src, dst, edits=()):
    """A copy of a course folder with (file, old, new) edits, each old text found exactly once."""
    shutil.copytree(src, dst)
    for name, old, new in edits:
        path = dst / name
        text = path.read_text()
        assert text.count(old) == 1, (name, old)
        path.write_text(text.replace(old, new))
    return dst


def append(folder, name, code):
    with open(folder / name, "a") as f:
        f.write("\n" + textwrap.dedent(code))


def rows(path):
    with open(path) as f:
        return {r["student"]: r for r in csv.DictReader(f)}


# ----------------------------------------------------------------------- the verdict
def test_os_exit_0_in_the_graded_code_is_a_failure_that_says_so(tmp_path, key):
    folder = copy(key, tmp_path / "s", [("rnn_step.py", "    a = h_prev @ W.T + x_t @ Wx.T + b\n",
                                         "    import os; os._exit(0)\n    a = h_prev @ W.T + x_t @ Wx.T + b\n")])
    out = numrnn("check", "--task", "1", str(folder / "rnn_step.py"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "task 1: your code ended the process (exit status 0) during your rnn_step_forward" in out.stdout


def test_a_module_that_rewrites_numrnns_report_cannot_forge_the_verdict(tmp_path, starter):
    folder = copy(starter, tmp_path / "s")
    append(folder, "rnn_step.py", """
        import numrnn.course.report as report
        report.Report.status = property(lambda self: 0)
        report.Report.score = property(lambda self: 1.0)
        report.Report.passed = property(lambda self: True)
        """)
    out = numrnn("check", "--task", "1", str(folder / "rnn_step.py"))
    assert out.returncode == 1
    assert "task 1: your rnn_step_forward is not written yet" in out.stdout
    assert out.stdout.rstrip().endswith("failed (first: h(t) = relu(W h(t-1) + Wx x(t) + b))")


def test_an_atexit_hook_printing_a_full_score_cannot_forge_the_batch(tmp_path, starter):
    subs = tmp_path / "subs"
    folder = copy(starter, subs / "cid")
    append(folder, "rnn_step.py", """
        import atexit, json
        atexit.register(lambda: print(json.dumps({c: {"score": 1.0, "status": 0} for c in
                        ["task1", "task2", "task3", "task4", "task5", "task6", "task7", "cell"]})))
        """)
    out = numrnn("check", "--batch", str(subs), "--csv", str(tmp_path / "scores.csv"), "--examples", "3")
    assert out.returncode == 0, out.stderr
    row = rows(tmp_path / "scores.csv")["cid"]
    assert row["total"] == "0.000"
    assert "not written yet" in row["task1_why"]


def test_a_student_graded_first_cannot_overwrite_another_students_file(tmp_path, key):
    subs = tmp_path / "subs"
    ann = copy(key, subs / "ann")
    append(ann, "rnn_step.py", """
        import os
        for base in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
            victim = os.path.join(base, "..", "bob", "rnn_step.py")
            if os.path.isdir(os.path.dirname(victim)):
                with open(victim, "w") as f:
                    f.write("def rnn_step_forward(*args):\\n    return 0, 0\\n")
        """)
    copy(key, subs / "bob")
    before = (subs / "bob" / "rnn_step.py").read_text()
    out = numrnn("check", "--batch", str(subs), "--csv", str(tmp_path / "scores.csv"), "--examples", "3")
    assert out.returncode == 0, out.stderr
    assert (subs / "bob" / "rnn_step.py").read_text() == before
    assert rows(tmp_path / "scores.csv")["bob"]["total"] == "8.000"


def test_code_deleting_the_files_of_its_working_folder_leaves_the_instructors_files(tmp_path, key):
    instructor = tmp_path / "instructor"
    instructor.mkdir()
    (instructor / "notes.txt").write_text("grades so far")
    (instructor / "scores.csv").write_text("student,total\n")
    sub = copy(key, tmp_path / "sub")
    append(sub, "rnn_sequence.py", """
        import os
        for base in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
            for name in os.listdir(base):
                if os.path.isfile(os.path.join(base, name)) and name != "rnn_sequence.py":
                    os.remove(os.path.join(base, name))
        """)
    out = numrnn("check", f"{sub / 'rnn_sequence.py'}:SkipRNN", "--examples", "3", cwd=instructor)
    assert (instructor / "notes.txt").read_text() == "grades so far"
    assert (instructor / "scores.csv").exists()
    assert (sub / "rnn_step.py").exists() and (sub / "README.md").exists()   # the submission too
    assert out.returncode == 0, out.stdout      # its numbers are right: it deleted copies only


# ---------------------------------------------------------------------- hangs and loops
def test_a_loop_that_swallows_the_timeout_is_ended_by_the_grader(tmp_path, key):
    folder = copy(key, tmp_path / "s", [("rnn_step.py", "    a = h_prev @ W.T + x_t @ Wx.T + b\n", """\
    import time
    while True:
        try:
            time.sleep(0.01)
        except BaseException:
            pass
    a = h_prev @ W.T + x_t @ Wx.T + b
""")])
    start = time.monotonic()
    out = numrnn("check", "--task", "1", str(folder / "rnn_step.py"), "--time-limit", "1", timeout=120)
    assert time.monotonic() - start < 60
    assert out.returncode == 1
    assert ("task 1: your rnn_step_forward did not finish within the check's time limit of 1 s and did "
            "not stop when interrupted") in out.stdout


def test_a_hanging_task_function_zeroes_only_that_task(tmp_path, key):
    subs = tmp_path / "subs"
    copy(key, subs / "dee", [("grad_lag.py", "    B, T, _ = x.shape\n", "    B, T, _ = x.shape\n    while True:\n        pass\n")])
    start = time.monotonic()
    out = numrnn("check", "--batch", str(subs), "--csv", str(tmp_path / "scores.csv"), "--time-limit", "2",
                 "--examples", "3", timeout=300)
    assert out.returncode == 0, out.stderr
    row = rows(tmp_path / "scores.csv")["dee"]
    assert row["task6"] == "0.000"
    assert "your grad_norm_by_lag did not finish within the check's time limit of 2 s" in row["task6_why"]
    assert "grad_lag.py line" in row["task6_why"]
    assert all(row[c] == "1.000" for c in ("task1", "task2", "task3", "task4", "task5", "task7", "cell"))
    assert time.monotonic() - start < 240


# ------------------------------------------------------------------------- the batch
def _children(pid):
    """The pids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to find the grader's children")
def test_a_killed_batch_leaves_no_orphan_keeps_its_journal_and_resumes(tmp_path, key):
    subs = tmp_path / "subs"
    marker = tmp_path / "bob-started"
    copy(key, subs / "ann")
    copy(key, subs / "bob", [("truncated.py", "    B, T, _ = x.shape\n",
                              f"    B, T, _ = x.shape\n    open({str(marker)!r}, 'w').close()\n"
                              "    while True:\n        pass\n")])
    copy(key, subs / "cid")
    csv_path = tmp_path / "scores.csv"
    argv = [sys.executable, "-m", "numrnn", "check", "--batch", str(subs), "--csv", str(csv_path),
            "--time-limit", "2", "--examples", "3"]
    grader = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert grader.poll() is None and time.monotonic() < deadline, "bob's task 7 never started"
        time.sleep(0.05)
    children = _children(grader.pid)
    assert children, "the student's code should be running in a child process"
    grader.send_signal(signal.SIGTERM)
    out, err = grader.communicate(timeout=60)
    assert grader.returncode not in (0, None), (out, err)
    assert "interrupted" in err
    time.sleep(1.0)
    assert not [pid for pid in children if _alive(pid)], "a child of the killed grader is still running"
    journal = json.loads((tmp_path / "scores.csv.journal.json").read_text())
    assert list(journal["students"]) == ["ann"]
    assert rows(csv_path)["ann"]["total"] == "8.000"

    out = numrnn(*argv[3:], "--resume", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "resuming: 1 of 3 students already graded" in out.stdout
    assert "ann:" not in out.stdout                     # kept from the journal, not graded again
    final = rows(csv_path)
    assert list(final) == ["ann", "bob", "cid"]
    assert final["bob"]["task7"] == "0.000" and "did not finish" in final["bob"]["task7_why"]
    assert final["cid"]["total"] == "8.000"


def test_a_batch_refuses_to_overwrite_an_earlier_journal_without_resume(tmp_path, key):
    subs = tmp_path / "subs"
    copy(key, subs / "ann")
    (tmp_path / "scores.csv.journal.json").write_text('{"version": 1, "settings": {}, "students": {}}')
    out = numrnn("check", "--batch", str(subs), "--csv", str(tmp_path / "scores.csv"))
    assert out.returncode == 2
    assert "--resume to keep them" in out.stderr


def test_nested_submission_folders_are_found_and_missing_ones_named(tmp_path, key):
    subs = tmp_path / "subs"
    copy(key, subs / "ann" / "hw")
    (subs / "dan").mkdir(parents=True)
    (subs / "dan" / "answers.txt").write_text("I could not do it")
    out = numrnn("check", "--batch", str(subs), "--csv", str(tmp_path / "scores.csv"), "--examples", "3")
    assert out.returncode == 0, out.stderr
    table = rows(tmp_path / "scores.csv")
    assert table["ann"]["total"] == "8.000" and table["ann"]["note"] == "files found in hw/"
    assert table["dan"]["total"] == "0.000"
    for column in ("task1", "task2", "task3", "task4", "task5", "task6", "task7", "cell"):
        assert table["dan"][f"{column}_why"].startswith("no course file (")


def test_every_zero_in_the_csv_has_its_reason(tmp_path, key, starter):
    subs = tmp_path / "subs"
    copy(starter, subs / "cid")
    copy(key, subs / "eve", [("grad_lag.py", "return norms", "return norms[::-1]")])
    out = numrnn("check", "--batch", str(subs), "--csv", str(tmp_path / "scores.csv"), "--examples", "3")
    assert out.returncode == 0
    for row in rows(tmp_path / "scores.csv").values():
        for column in ("task1", "task2", "task3", "task4", "task5", "task6", "task7", "cell"):
            if float(row[column]) < 1:
                assert row[f"{column}_why"], (row["student"], column)
            else:
                assert not row[f"{column}_why"]
    assert "the norms are in reverse order" in rows(tmp_path / "scores.csv")["eve"]["task6_why"]


# --------------------------------------------------------------------------- Gradescope
def test_gradescope_writes_results_json_with_gradescopes_fields(tmp_path, key):
    sub = copy(key, tmp_path / "submission", [("grad_lag.py", "return norms", "return norms[::-1]")])
    results = tmp_path / "results" / "results.json"
    out = numrnn("check", "--gradescope", str(sub), "--results", str(results), "--examples", "3")
    assert out.returncode == 0, out.stderr
    data = json.loads(results.read_text())
    assert {"score", "execution_time", "output", "visibility", "tests"} <= set(data)
    assert len(data["tests"]) == 8
    for test in data["tests"]:
        assert {"name", "score", "max_score", "output"} <= set(test)
        assert isinstance(test["score"], float) and test["max_score"] == 1.0
    by_name = {t["name"].split(":")[0]: t for t in data["tests"]}
    assert by_name["task 6"]["score"] == 0.0 and "the norms are in reverse order" in by_name["task 6"]["output"]
    assert by_name["task 1"]["score"] == 1.0 and by_name["task 1"]["status"] == "passed"
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_gradescope_with_nothing_submitted_gives_zero_with_the_reason(tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    results = tmp_path / "results.json"
    out = numrnn("check", "--gradescope", str(sub), "--results", str(results))
    assert out.returncode == 0
    data = json.loads(results.read_text())
    assert data["score"] == 0 and all("no course file" in t["output"] for t in data["tests"])


def test_course_gradescope_writes_the_autograder_files(tmp_path):
    assert main(["course", "gradescope", str(tmp_path / "ag")]) == 0
    setup = (tmp_path / "ag" / "setup.sh").read_text()
    run = (tmp_path / "ag" / "run_autograder").read_text()
    assert setup.startswith("#!/usr/bin/env bash") and "numrnn-*.whl)[course]" in setup
    assert "numrnn check --gradescope /autograder/submission" in run
    assert "--results /autograder/results/results.json" in run
    assert os.access(tmp_path / "ag" / "run_autograder", os.X_OK)


# ----------------------------------------------------------------------- exit statuses
def test_bad_flags_are_usage_errors(tmp_path):
    for flags in (["--examples", "0"], ["--time-limit", "-1"], ["--examples", "x"]):
        out = numrnn("check", str(tmp_path), *flags)
        assert out.returncode == 2 and "error: argument" in out.stderr, flags


def test_code_writing_into_the_graders_pipe_is_a_failed_check(tmp_path, key):
    folder = copy(key, tmp_path / "s", [("rnn_step.py", "    a = h_prev @ W.T + x_t @ Wx.T + b\n",
                                         "    import os, sys; os.write(int(sys.argv[2]), b'\\xff' * 64)\n"
                                         "    a = h_prev @ W.T + x_t @ Wx.T + b\n")])
    out = numrnn("check", "--task", "1", str(folder / "rnn_step.py"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "could not be read during your rnn_step_forward" in out.stdout


def test_without_process_groups_check_falls_back_to_the_in_process_runner(monkeypatch, key):
    from numrnn.course import runner, tasks

    assert isinstance(runner.student_runner("task 1", 5.0, str(key)), runner.ChildRunner)
    monkeypatch.setattr(runner.os, "name", "nt")              # as on Windows
    local = runner.student_runner("task 1", 5.0, str(key))
    assert isinstance(local, runner.LocalRunner)
    monkeypatch.undo()
    monkeypatch.setattr(tasks, "student_runner", lambda task, limit, folder: runner.LocalRunner(task, limit))
    assert tasks.grade_task(2, str(key), max_examples=3).passed
