"""``numrnn course init DIR`` and ``numrnn check ...``: the student track on the command line.

Examples::

    numrnn course init hw1                      # the starter files and their tests in hw1/
    numrnn course init hw1-key --solutions      # the instructor's copy
    numrnn check --task 4 hw1/rnn_sequence.py   # one task
    numrnn check hw1                            # every task of a folder
    numrnn check mycell.py:MyRNN                # a whole cell class (the minimal protocol)
    numrnn check --batch submissions --csv scores.csv   # a folder per student -> one CSV

Exit status: 0 every check passed, 1 a check failed, 2 the file could not be loaded or used.
"""
import csv
import json
import os
import subprocess
import sys

from .._io import atomic_write_text
from .report import Report
from .starter import TASKS, write_course

COLUMNS = [f"task{n}" for n in TASKS] + ["cell"]


def add_parser(subparsers):
    p = subparsers.add_parser("course", help="the student track: write the starter files",
                              description="Write the student's starter files (the seven tasks, with "
                              "blanks raising NotImplementedError) and their pytest tests into DIR.")
    sub = p.add_subparsers(dest="course_command", metavar="init")
    sub.required = True
    init = sub.add_parser("init", help="write the starter package and its tests into DIR")
    init.add_argument("dir", help="a new or empty folder")
    init.add_argument("--solutions", action="store_true", help="the instructor's copy, blanks filled in")
    init.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    init.set_defaults(func=run_init)
    nbs = sub.add_parser("notebooks", help="write the student versions of notebooks 02 and 05 into OUT",
                         description="Make the graded student notebooks from the solution notebooks "
                         "with nbgrader's ClearSolutions and ClearOutput (pip install 'numrnn[course]').")
    nbs.add_argument("out", help="folder for the student notebooks")
    nbs.add_argument("--from", dest="source", default=None,
                     help="folder of the solution notebooks (default: the repository's notebooks/)")
    nbs.set_defaults(func=run_notebooks)

    c = subparsers.add_parser("check", help="grade a student's task, folder or cell, with a diagnosis",
                              description="Grade a task (--task N FILE.py), every task of a folder "
                              "(DIR), a cell class (FILE.py:NAME) or many submissions (--batch DIR). "
                              "Exit 0: all passed; 1: a check failed; 2: the file cannot be used.")
    c.add_argument("target", help="FILE.py:NAME, FILE.py with --task, a course folder, or the "
                                  "folder of submissions with --batch")
    c.add_argument("--task", type=int, default=None, help="the task 1-7 in FILE.py (or in a folder)")
    c.add_argument("--batch", action="store_true",
                   help="TARGET holds one folder per student; write --csv with a score per task")
    c.add_argument("--csv", default="scores.csv", help="where --batch writes the scores (scores.csv)")
    c.add_argument("--time-limit", type=float, default=20.0,
                   help="seconds one call into the student's code may take (default 20)")
    c.add_argument("--examples", type=int, default=20, help="hypothesis-drawn settings (default 20)")
    c.add_argument("--json", action="store_true", help=argparse_suppress())
    c.set_defaults(func=run_check)
    return p


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


def run_init(args):
    written = write_course(args.dir, solutions=args.solutions, force=args.force)
    kind = "instructor's copy (solutions)" if args.solutions else "starter"
    print(f"wrote the {kind} into {args.dir}: " + ", ".join(os.path.basename(p) for p in written))
    print(f"next: cd {args.dir} && pytest      (or: numrnn check --task 1 {os.path.join(args.dir, 'rnn_step.py')})")
    return 0


def run_notebooks(args):
    from .notebooks import write_student_notebooks

    source = args.source or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "notebooks")
    for path in write_student_notebooks(source, args.out):
        print(f"wrote {path}")
    return 0


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


def run_check(args):
    if args.examples < 1:
        raise ValueError(f"--examples must be at least 1, got {args.examples}")
    if not args.time_limit > 0:
        raise ValueError(f"--time-limit must be a positive number of seconds, got {args.time_limit:g}")
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


def run_batch(args):
    root = args.target
    if not os.path.isdir(root):
        raise ValueError(f"check --batch: {root} is not a folder (it should hold one folder per student)")
    students = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                      and not d.startswith("."))
    if not students:
        raise ValueError(f"check --batch: {root} holds no student folders")
    rows = []
    for student in students:
        folder = os.path.join(root, student)
        cmd = [sys.executable, "-m", "numrnn", "check", folder, "--json", "--time-limit",
               str(args.time_limit), "--examples", str(args.examples)]
        limit = 30 * args.time_limit + 120
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
            scores = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
            note = "" if scores else (out.stderr.strip().splitlines() or ["no output"])[-1]
        except subprocess.TimeoutExpired:
            scores, note = {}, f"stopped after {limit:g} s"
        except (json.JSONDecodeError, IndexError):
            scores, note = {}, "the grader's output could not be read"
        row = {"student": student}
        row.update({c: f"{scores[c]['score']:.3f}" if c in scores else "0.000" for c in COLUMNS})
        row["total"] = f"{sum(float(row[c]) for c in COLUMNS):.3f}"
        row["note"] = note
        rows.append(row)
        print(f"{student}: " + " ".join(f"{c}={row[c]}" for c in COLUMNS) + (f"  ({note})" if note else ""))
    import io
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["student"] + COLUMNS + ["total", "note"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(args.csv, buf.getvalue())
    print(f"wrote {args.csv}: {len(rows)} students; a score is the fraction of the task's checks passed")
    return 0
