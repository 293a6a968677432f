"""Build the numrnn course site: ``python docs/build.py OUT`` (after ``pip install -e ".[docs]"``).

What it does, in order:

1. stages a scratch source folder: this ``docs/`` folder, every ``notebooks/*.ipynb`` (by glob, so a
   new notebook joins the site by itself), the README (the site includes its sections rather than
   copying them) and the figures the README shows;
2. puts MathJax 3 into the staged ``_static/mathjax``: from ``--mathjax DIR`` (or
   ``NUMRNN_MATHJAX_DIR``), else from a cache in ``~/.cache/numrnn-site``, filled once by
   ``npm install mathjax@3.2.2`` (npm's registry is the only thing the build may reach, and only
   when the cache is empty);
3. runs ``sphinx-build -b html`` with ``NUMRNN_NOTEBOOK_QUICK=1`` (every notebook executed at the
   quick sizes) and ``OPENBLAS_NUM_THREADS=1``, this repository first on ``PYTHONPATH`` so the
   notebooks' kernels and the API reference import this checkout's numrnn.

The site in OUT is static HTML that reads nothing from the network (``tests/test_site.py`` opens
every page in headless Chromium and fails on any request that leaves the local server).
Exit status: 0 built, 1 Sphinx or a notebook failed, 2 a tool is missing (the message says how to
install it).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
MATHJAX_VERSION = "3.2.2"
MATHJAX_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "numrnn-site"
REQUIRED = {"sphinx": "sphinx", "myst_nb": "myst-nb", "sphinx_book_theme": "sphinx-book-theme",
            "numpydoc": "numpydoc", "nbclient": "nbclient", "ipykernel": "ipykernel"}


class Missing(Exception):
    """A tool the build needs is not installed; the message says how to install it."""


def check_python_packages():
    import importlib.util
    missing = [pip for module, pip in REQUIRED.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise Missing(f"the site needs {', '.join(missing)}: pip install -e \".[docs]\"")


def mathjax_dir(given=None):
    """The folder holding MathJax 3's ``tex-chtml.js`` (its es5 build): given, cached, or from npm."""
    given = given or os.environ.get("NUMRNN_MATHJAX_DIR")
    if given:
        path = Path(given)
        if not (path / "tex-chtml.js").is_file():
            raise Missing(f"--mathjax {path}: no tex-chtml.js there (give MathJax 3's es5 folder)")
        return path
    cached = MATHJAX_CACHE / "node_modules" / "mathjax" / "es5"
    if not (cached / "tex-chtml.js").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise Missing("MathJax is not cached and npm is missing: apt-get install -y npm, "
                          "or pass --mathjax DIR (MathJax 3's es5 folder)")
        MATHJAX_CACHE.mkdir(parents=True, exist_ok=True)
        print(f"fetching MathJax {MATHJAX_VERSION} with npm into {MATHJAX_CACHE} (once)", flush=True)
        subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error",
                        "--prefix", str(MATHJAX_CACHE), f"mathjax@{MATHJAX_VERSION}"], check=True)
        if not (cached / "tex-chtml.js").is_file():
            raise Missing(f"npm installed mathjax@{MATHJAX_VERSION} but {cached} has no tex-chtml.js")
    return cached


def stage(source, mathjax):
    """Copy what the site is built from into ``source`` (a fresh folder)."""
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("build.py", "__pycache__", "_build"))
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise Missing(f"no notebooks in {REPO / 'notebooks'}")
    (source / "notebooks").mkdir()
    for path in notebooks:
        shutil.copy2(path, source / "notebooks" / path.name)
    shutil.copy2(REPO / "README.md", source / "README.md")
    shutil.copytree(REPO / "figures" / "diagnostics", source / "figures" / "diagnostics")
    shutil.copytree(mathjax, source / "_static" / "mathjax")
    write_api_pages(source / "api")
    return notebooks


#: The packages the API reference covers, in reading order (numrnn.cli and numrnn.__main__ are the
#: command line, documented by ``numrnn --help``).
API_PACKAGES = ["numrnn.nn", "numrnn.training", "numrnn.analysis", "numrnn.data", "numrnn.course",
                "numrnn.experiments"]


def api_modules():
    """Every module of API_PACKAGES, package first, then its modules in name order."""
    import pkgutil
    modules = []
    for package in API_PACKAGES:
        folder = REPO.joinpath(*package.split("."))
        modules.append(package)
        modules += sorted(f"{package}.{info.name}" for info in pkgutil.iter_modules([str(folder)])
                          if not info.name.startswith("_"))
    return modules


def write_api_pages(folder):
    """One page per module (``api/numrnn.nn.reference.rst``: automodule with its members)."""
    folder.mkdir()
    for name in api_modules():
        title = f"``{name}``"
        (folder / f"{name}.rst").write_text(f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n")
    with open(folder.parent / "api.rst", "a") as index:
        for package in API_PACKAGES:
            members = [m for m in api_modules() if m == package or m.startswith(package + ".")]
            index.write(f"\n.. toctree::\n   :caption: {package}\n   :maxdepth: 1\n\n")
            index.writelines(f"   api/{m}\n" for m in members)


def build(out, mathjax=None, quiet=False):
    """Build the site into ``out``; returns the number of HTML pages written."""
    check_python_packages()
    mathjax = mathjax_dir(mathjax)
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="numrnn-site-") as scratch:
        scratch = os.environ.get("NUMRNN_SITE_SCRATCH", scratch)      # keep the staged source to debug
        source = Path(scratch) / "src"
        shutil.rmtree(source, ignore_errors=True)
        notebooks = stage(source, mathjax)
        env = dict(os.environ, NUMRNN_NOTEBOOK_QUICK="1", OPENBLAS_NUM_THREADS="1",
                   NUMRNN_SITE_REPO=str(REPO),
                   PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        env.pop("NUMRNN_NOTEBOOK_FIGURES", None)           # the notebooks save no figures here
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-j", "1", "--keep-going",
                   "-d", str(Path(scratch) / "doctrees"), str(source), str(out)]
        if quiet:
            command.insert(3, "-q")
        print(f"building the site from {len(notebooks)} notebooks into {out} "
              f"(notebooks run with NUMRNN_NOTEBOOK_QUICK=1)", flush=True)
        if subprocess.run(command, env=env, cwd=scratch).returncode != 0:
            raise RuntimeError("sphinx-build failed (its messages are above)")
    return len(list(out.rglob("*.html")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="folder to write the site into (index.html at its top)")
    parser.add_argument("--mathjax", metavar="DIR",
                        help="MathJax 3's es5 folder to use instead of the npm cache")
    parser.add_argument("-q", "--quiet", action="store_true", help="only Sphinx's warnings and errors")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        pages = build(args.out, args.mathjax, args.quiet)
    except Missing as err:
        print(f"docs/build.py: {err}", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.CalledProcessError) as err:
        print(f"docs/build.py: {err}", file=sys.stderr)
        return 1
    print(f"wrote {Path(args.out) / 'index.html'}: {pages} pages in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
