"""``numrnn course ...`` and ``numrnn check ...``: the student track on the command line.

Examples::

    numrnn course init hw1                      # the starter files and their tests in hw1/
    numrnn course init hw1-key --solutions      # the instructor's copy
    numrnn check --task 4 hw1/rnn_sequence.py   # one task
    numrnn check hw1                            # every task of a folder
    numrnn check mycell.py:MyRNN                # a whole cell class (the minimal protocol)
    numrnn check --batch submissions --csv scores.csv   # a folder per student -> one CSV (+ journal)
    numrnn check --batch submissions --csv scores.csv --resume   # continue a batch that was stopped
    numrnn check --gradescope /autograder/submission    # Gradescope's results.json
    numrnn course gradescope OUT                # setup.sh and run_autograder for Gradescope
    numrnn course nbgrader OUT                  # an nbgrader course folder for notebooks 02 and 05

The student's code never runs in this process: every call goes to a child process in a scratch
copy of the student's folder, under a deadline this process enforces (:mod:`numrnn.course.runner`).
It is not a sandbox: the code runs with the permissions of whoever runs the grader.

Exit status of ``check``: 0 the command did its job and the verdict is yes (every check passed; a
batch or a Gradescope run graded every submission); 1 it ran and the verdict is no (a check
failed); 2 bad input or usage (a file that cannot be loaded, a missing class, a wrong signature, a
bad flag); 3 an internal error of numrnn's.
"""
import csv
import io
import json
import os
import signal
import sys
import time

from .._cli import EXIT_INTERNAL, EXIT_OK as EXIT_PASS, POSITIVE, POSITIVE_INT
from .._io import atomic_write_text
from .report import Report
from .starter import TASKS, write_course

COLUMNS = [f"task{n}" for n in TASKS] + ["cell"]
#: The files of a course folder (what a submission is recognised by).
COURSE_FILES = sorted({f for f, _ in TASKS.values()})


def add_parser(subparsers):
    p = subparsers.add_parser("course", help="the student track: write the starter files",
                              description="Write the student's starter files (the seven tasks, with "
                              "blanks raising NotImplementedError) and their pytest tests into DIR.")
    sub = p.add_subparsers(dest="course_command", metavar="{init,notebooks,nbgrader,gradescope}")
    sub.required = True
    init = sub.add_parser("init", help="write the starter package and its tests into DIR")
    init.add_argument("dir", help="a new or empty folder")
    init.add_argument("--solutions", action="store_true", help="the instructor's copy, blanks filled in")
    init.add_argument("--force", action="store_true", help="write into a folder that is not empty "
                      "(course files you changed are moved to a backup folder first)")
    init.set_defaults(func=run_init)
    nbs = sub.add_parser("notebooks", help="write the course's notebooks, installing numrnn from --source, into OUT",
                         description="Write every notebook with its install cell and Colab line set to "
                         "--source, and the graded student versions (nbgrader's ClearSolutions, "
                         "pip install 'numrnn[course]') in OUT/student. Notebooks someone edited are "
                         "never overwritten: --force moves them to a backup folder first.")
    nbs.add_argument("out", help="folder for the notebooks (the repository's notebooks/ restamps them in place)")
    nbs.add_argument("--from", dest="src_dir", default=None, metavar="DIR",
                     help="folder of the solution notebooks (default: the repository's notebooks/)")
    nbs.add_argument("--source", default=None, help="where the notebooks pip-install numrnn from: "
                     "git+https://host/you/numrnn.git@TAG, a wheel's URL or path, or numrnn==VERSION "
                     "(default: numrnn.course.notebooks.COURSE_SOURCE)")
    nbs.add_argument("--force", action="store_true", help="move edited notebooks to a backup folder, then write")
    nbs.set_defaults(func=run_notebooks)
    nbg = sub.add_parser("nbgrader", help="write an nbgrader course folder (config + source/ASSIGNMENT)",
                         description="Write OUT/nbgrader_config.py and OUT/source/ASSIGNMENT/ with the graded "
                         "notebooks 02 and 05 under the names students receive (*_student.ipynb), so "
                         "`nbgrader generate_assignment` and `nbgrader autograde` work in OUT as they are.")
    nbg.add_argument("out", help="a new or empty folder: the nbgrader course root")
    nbg.add_argument("--assignment", default="hw", help="the assignment's name (default hw)")
    nbg.add_argument("--from", dest="source", default=None,
                     help="folder of the solution notebooks (default: the repository's notebooks/)")
    nbg.set_defaults(func=run_nbgrader)
    gs = sub.add_parser("gradescope", help="write setup.sh and run_autograder for a Gradescope autograder",
                        description="Write the two files of a Gradescope autograder zip into OUT.")
    gs.add_argument("out", help="a new or empty folder")
    gs.add_argument("--time-limit", type=POSITIVE, default=20.0,
                    help="seconds per check the autograder allows the student's code (default 20)")
    gs.set_defaults(func=run_gradescope_files)

    c = subparsers.add_parser("check", help="grade a student's task, folder or cell, with a diagnosis",
                              description="Grade a task (--task N FILE.py), every task of a folder "
                              "(DIR), a cell class (FILE.py:NAME), many submissions (--batch DIR) or one "
                              "Gradescope submission (--gradescope [DIR]). The student's code runs in a "
                              "child process under a deadline; it is not a sandbox. Exit 0: all passed "
                              "(a batch: every student graded); 1: a check failed; 2: bad input (the "
                              "file cannot be used, a bad flag); 3: an internal error.")
    c.add_argument("target", nargs="?", default=None,
                   help="FILE.py:NAME, FILE.py with --task, a course folder, the folder of submissions "
                        "with --batch, or the submission with --gradescope (default /autograder/submission)")
    c.add_argument("--task", type=int, default=None, help="the task 1-7 in FILE.py (or in a folder)")
    c.add_argument("--batch", action="store_true",
                   help="TARGET holds one folder per student; write --csv with a score per task")
    c.add_argument("--csv", default="scores.csv",
                   help="where --batch writes the scores (scores.csv; the journal is CSV.journal.json)")
    c.add_argument("--resume", action="store_true",
                   help="with --batch: keep the students the journal holds and grade the others")
    c.add_argument("--gradescope", action="store_true",
                   help="grade one submission folder and write Gradescope's results.json (--results)")
    c.add_argument("--results", default="/autograder/results/results.json",
                   help="where --gradescope writes results.json (default /autograder/results/results.json)")
    c.add_argument("--time-limit", type=POSITIVE, default=20.0,
                   help="seconds the student's code may take per check (default 20)")
    c.add_argument("--examples", type=POSITIVE_INT, default=20, help="hypothesis-drawn settings (default 20)")
    c.add_argument("--json", action="store_true", help=argparse_suppress())
    c.set_defaults(func=run_check)
    return p


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


def run_init(args):
    written = write_course(args.dir, solutions=args.solutions, force=args.force)
    if written.backup:
        print(f"moved the files you had changed to {written.backup}")
    kind = "instructor's copy (solutions)" if args.solutions else "starter"
    print(f"wrote the {kind} into {args.dir}: " + ", ".join(os.path.basename(p) for p in written))
    print(f"next: cd {args.dir} && pytest      (or: numrnn check --task 1 {os.path.join(args.dir, 'rnn_step.py')})")
    return 0


def _notebook_source(source):
    return source or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "notebooks")


def run_notebooks(args):
    from .notebooks import COURSE_SOURCE, write_course_notebooks

    source = COURSE_SOURCE if args.source is None else args.source
    written = write_course_notebooks(_notebook_source(args.src_dir), args.out, source, force=args.force)
    if written.backup:
        print(f"moved the edited notebooks to {written.backup}")
    print(f"wrote {len(written)} notebooks into {args.out}, installing numrnn from {source}: "
          + ", ".join(os.path.relpath(p, args.out) for p in written))
    return 0


def run_nbgrader(args):
    from .nbgrader import write_nbgrader_course

    for path in write_nbgrader_course(_notebook_source(args.source), args.out, args.assignment):
        print(f"wrote {path}")
    print(f"next: cd {args.out} && nbgrader generate_assignment {args.assignment} "
          f"&& nbgrader autograde {args.assignment}   (submissions in {args.out}/submitted/STUDENT/"
          f"{args.assignment}/, named as released)")
    return 0


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
# Put numrnn's wheel beside this file in the zip (build it with: pip wheel --no-deps -w . /path/to/numrnn).
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install "$(ls /autograder/source/numrnn-*.whl)[course]"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; the student's files are in /autograder/submission.
# numrnn runs the student's code in child processes with a deadline per check and writes
# /autograder/results/results.json itself (one test per task and one for the whole cell).
export OPENBLAS_NUM_THREADS=1
/autograder/venv/bin/numrnn check --gradescope /autograder/submission \\
    --results /autograder/results/results.json --time-limit {time_limit:g}
"""


def run_gradescope_files(args):
    os.makedirs(args.out, exist_ok=True)
    written = []
    for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER.format(time_limit=args.time_limit))):
        path = os.path.join(args.out, name)
        if os.path.exists(path):
            raise ValueError(f"course gradescope: {path} exists; remove it or choose another folder")
        atomic_write_text(path, text)
        os.chmod(path, 0o755)
        written.append(path)
        print(f"wrote {path}")
    print(f"next: zip -j autograder.zip {' '.join(written)} numrnn-*.whl  and upload it to Gradescope")
    return 0


# ------------------------------------------------------------------------------- grading
def grade(target, task=None, time_limit=20.0, max_examples=20):
    """The reports for one target: a task, every task of a folder, or a cell class."""
    from . import grade_cell, grade_task, parse_target
    from .runner import CannotUse

    if task is not None:
        return [grade_task(task, target, time_limit, max_examples)]
    if os.path.isdir(target):
        reports = [grade_task(n, target, time_limit, max_examples) for n in TASKS]
        return reports + [grade_cell(os.path.join(target, "rnn_sequence.py"), "SkipRNN", time_limit,
                                     max_examples)]
    try:
        path, name = parse_target(target)
    except CannotUse as err:
        return [Report(target, unusable=str(err))]
    if name is None:
        return [Report(target, unusable=f"check: say what to check in {target}: FILE.py:NAME for a "
                                        "cell class, or --task N FILE.py for a task")]
    return [grade_cell(path, name, time_limit, max_examples)]


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every child process is killed on the way out."""


def _on_sigterm(signum, frame):
    raise _Terminated


def run_check(args):
    """``numrnn check``: exit 0 yes, 1 no, 2 bad input, 3 numrnn's own error (see the module doc)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run_check(args)
    except (ValueError, TypeError, OSError):
        raise                                    # bad input: `numrnn check: error: ...`, exit 2
    except KeyboardInterrupt:
        raise
    except Exception as err:                      # a bug of numrnn's: say so, exit 3
        if os.environ.get("NUMRNN_DEBUG"):
            raise
        print(f"numrnn check: internal error: {type(err).__name__}: {err} (please report it; "
              "NUMRNN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        from .runner import stop_all_children
        stop_all_children()
        signal.signal(signal.SIGTERM, previous)


def _run_check(args):
    if args.batch and args.gradescope:
        raise ValueError("--batch and --gradescope do not go together: --batch grades a folder of "
                         "students, --gradescope one submission")
    if args.gradescope:
        return run_gradescope(args)
    if args.target is None:
        raise ValueError("say what to check: FILE.py:NAME, --task N FILE.py, a folder, or --batch DIR")
    if args.resume and not args.batch:
        raise ValueError("--resume goes with --batch")
    if args.task is not None and ".py:" in args.target:
        args.target = args.target.rpartition(":")[0]          # --task N FILE.py:NAME: the file
    if args.batch:
        return run_batch(args)
    reports = grade(args.target, args.task, args.time_limit, args.examples)
    if args.json:
        print(json.dumps({_column(r): {"score": r.score, "status": r.status} for r in reports}))
        return max(r.status for r in reports)
    for r in reports:
        print(r.text(), end="\n\n" if len(reports) > 1 else "\n")
    if len(reports) > 1:
        passed = sum(r.passed for r in reports)
        print(f"{'pass' if passed == len(reports) else 'fail'}: {passed} of {len(reports)} parts passed")
    return max(r.status for r in reports)


def _column(report):
    """'task3' for a task's report, 'cell' for the cell's."""
    words = report.target.split(" ")
    return f"task{words[1]}" if words[0] == "task" else "cell"


# ------------------------------------------------------------------ one submission folder
def find_course_folder(folder):
    """The folder inside ``folder`` that holds the course files (itself, or the subfolder holding the
    most of them, the shallowest first); (None, why) when there is none."""
    best, best_count = None, 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        count = len(set(COURSE_FILES) & set(filenames))
        if count > best_count:
            best, best_count = dirpath, count
    if best is None:
        return None, (f"no course file ({', '.join(COURSE_FILES)}) in {os.path.basename(folder)}/ "
                      "or its subfolders")
    return best, ""


def _where_found(folder, course):
    rel = os.path.relpath(course, folder)
    return "" if rel == "." else f"files found in {rel}/"


def grade_submission(folder, time_limit=20.0, max_examples=20):
    """{column: Report} for every task and the cell of one student's folder, and a note (where the
    files were found). Each task runs in its own child process."""
    from . import grade_cell, grade_task

    course, missing = find_course_folder(folder)
    if course is None:
        return {c: Report(c, unusable=missing) for c in COLUMNS}, missing
    reports = {}
    for n in TASKS:
        path = os.path.join(course, TASKS[n][0])
        if not os.path.isfile(path):
            reports[f"task{n}"] = Report(f"task {n}", unusable=f"task {n}: no {TASKS[n][0]} in "
                                         f"{os.path.relpath(course, os.path.dirname(folder))}/")
            continue
        reports[f"task{n}"] = grade_task(n, path, time_limit, max_examples)
    seq = os.path.join(course, "rnn_sequence.py")
    reports["cell"] = (grade_cell(seq, "SkipRNN", time_limit, max_examples) if os.path.isfile(seq) else
                       Report("cell", unusable="cell: no rnn_sequence.py"))
    return reports, _where_found(folder, course)


def why(report):
    """Why a report is below full marks, in one line ('' when it passed)."""
    if report.unusable:
        return report.unusable
    failed = [c for c in report.run_checks if not c.passed]
    if not failed and report.run_checks:
        return ""
    if not report.run_checks:
        return "no check ran"
    first = failed[0]
    said = (first.diagnosis or first.detail).strip().splitlines()
    text = f"{len(failed)} of {len(report.run_checks)} checks failed; first: {first.name}"
    if said:
        text += f": {said[0]}"
    return text if len(text) <= 400 else text[:397] + "..."


# ------------------------------------------------------------------------------- batch
JOURNAL_VERSION = 1


def _journal_path(csv_path):
    return csv_path + ".journal.json"


def _write_csv(path, rows):
    buf = io.StringIO()
    fields = ["student"] + COLUMNS + ["total"] + [f"{c}_why" for c in COLUMNS] + ["note"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def run_batch(args):
    root = args.target
    if not os.path.isdir(root):
        raise ValueError(f"check --batch: {root} is not a folder (it should hold one folder per student)")
    students = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                      and not d.startswith((".", "__")))
    if not students:
        raise ValueError(f"check --batch: {root} holds no student folders")
    journal_path = _journal_path(args.csv)
    settings = {"time_limit": args.time_limit, "examples": args.examples}
    journal = {"version": JOURNAL_VERSION, "settings": settings, "students": {}}
    if os.path.exists(journal_path):
        if not args.resume:
            raise ValueError(f"check --batch: {journal_path} holds an earlier run's results: --resume to "
                             "keep them and grade the rest, or remove it to start over")
        try:
            with open(journal_path) as f:
                journal = json.load(f)
            if not isinstance(journal.get("students"), dict):
                raise ValueError
        except (ValueError, OSError):
            raise ValueError(f"check --batch --resume: {journal_path} is not a journal numrnn wrote") from None
        if journal.get("settings") != settings:
            raise ValueError(f"check --batch --resume: the journal was written with --time-limit "
                             f"{journal['settings'].get('time_limit')} --examples "
                             f"{journal['settings'].get('examples')}; resume with the same")
    done = journal["students"]
    if args.resume and done:
        print(f"resuming: {len(done)} of {len(students)} students already graded ({journal_path})")
    for student in students:
        if student in done:
            continue
        reports, note = grade_submission(os.path.join(root, student), args.time_limit, args.examples)
        row = {"student": student}
        row.update({c: f"{reports[c].score:.3f}" for c in COLUMNS})
        row["total"] = f"{sum(reports[c].score for c in COLUMNS):.3f}"
        row.update({f"{c}_why": why(reports[c]) for c in COLUMNS})
        row["note"] = note
        done[student] = row
        atomic_write_text(journal_path, json.dumps(journal, indent=1))    # kept if the batch is stopped
        _write_csv(args.csv, [done[s] for s in students if s in done])
        print(f"{student}: " + " ".join(f"{c}={row[c]}" for c in COLUMNS) + (f"  ({note})" if note else ""),
              flush=True)
    _write_csv(args.csv, [done[s] for s in students if s in done])
    print(f"wrote {args.csv}: {len(students)} students; a score is the fraction of the task's checks "
          f"passed; the *_why columns say why a score is below 1 (journal: {journal_path})")
    return EXIT_PASS


# --------------------------------------------------------------------------- Gradescope
def gradescope_results(reports, note, seconds):
    """Gradescope's results.json as a dict: one test per task and one for the cell, 1 point each."""
    tests = []
    for number, column in enumerate(COLUMNS, start=1):
        r = reports[column]
        name = (f"task {column[4:]}: {TASKS[int(column[4:])][1]}" if column.startswith("task")
                else "the whole cell: SkipRNN in rnn_sequence.py")
        tests.append({"name": name, "number": str(number), "score": round(r.score, 4), "max_score": 1.0,
                      "status": "passed" if r.passed else "failed", "output": r.text(),
                      "visibility": "visible"})
    total = sum(t["score"] for t in tests)
    summary = (f"numrnn check: {total:.2f} of {len(tests):.0f} points; each test is a task's fraction of "
               "checks passed" + (f"; {note}" if note else ""))
    return {"score": round(total, 4), "execution_time": round(seconds, 1), "output": summary,
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def run_gradescope(args):
    start = time.monotonic()
    folder = args.target or "/autograder/submission"
    if not os.path.isdir(folder):
        raise ValueError(f"check --gradescope: {folder} is not a folder (the student's submission)")
    reports, note = grade_submission(folder, args.time_limit, args.examples)
    result = gradescope_results(reports, note, time.monotonic() - start)
    folder_out = os.path.dirname(os.path.abspath(args.results))
    os.makedirs(folder_out, exist_ok=True)
    atomic_write_text(args.results, json.dumps(result, indent=1) + "\n")
    print(result["output"])
    print(f"wrote {args.results}")
    return EXIT_PASS
