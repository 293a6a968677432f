"""The course site, opened in a real browser.

The site is built once per session with its own command (``python docs/build.py OUT``: every
notebook executed at the quick sizes, the API reference from the docstrings), served by a local
``http.server`` on 127.0.0.1, and every page is opened in headless Chromium (Debian's ``chromium``,
driven by Playwright for Python with ``executable_path``). On each page the test asserts what a
reader would notice: no console error or uncaught exception, no request leaving the local server
(MathJax, fonts and icons must be local copies), the maths typeset by MathJax with no TeX error,
every image loaded (naturalWidth > 0), every same-site link answering HTTP 200 and every anchor
present. It saves screenshots of the home page, notebook 03 and the API page of
``numrnn.nn.reference`` (to ``NUMRNN_SITE_SHOTS``, default a scratch folder; the README's picture
comes from ``NUMRNN_SITE_SHOTS=figures/site``).

Nothing here is skipped: without Chromium, Playwright or the docs packages the test fails and says
how to install them (``bash .ci/run`` installs all of them).
"""
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = {"home": "index.html", "notebook03": "notebooks/03_vanishing_exploding.html",
         "api_nn_reference": "api/numrnn.nn.reference.html"}

pytestmark = pytest.mark.slow


def chromium_path():
    path = os.environ.get("NUMRNN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed, so the course site cannot be opened in a browser: "
                    "apt-get install -y chromium (Debian), or set NUMRNN_CHROMIUM to a Chromium binary; "
                    "`bash .ci/run` installs it")
    return path


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The built site's folder (one build per session, with the project's own command).

    ``NUMRNN_SITE_BUILT=DIR`` tests a site already built into DIR by ``docs/build.py`` instead (to
    iterate on the pages; CI never sets it)."""
    if os.environ.get("NUMRNN_SITE_BUILT"):
        return Path(os.environ["NUMRNN_SITE_BUILT"]).resolve()
    out = tmp_path_factory.mktemp("site") / "html"
    result = subprocess.run([sys.executable, str(REPO / "docs" / "build.py"), str(out), "--quiet"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"docs/build.py failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    assert (out / "index.html").is_file(), result.stdout
    return out


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):   # the browser dropped a request
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def server(site):
    """The site on http://127.0.0.1:PORT/, served from a thread."""
    httpd = Server(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install -e \".[test]\" (the browser itself "
                    "is Debian's chromium, never Playwright's download)")
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Anchors(HTMLParser):
    """The ids and names a page defines, and the links and images it holds."""

    def __init__(self):
        super().__init__()
        self.anchors, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag in ("a",) else ("id",):
            if attrs.get(key):
                self.anchors.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


@functools.lru_cache(maxsize=None)
def page_anchors(url):
    with urllib.request.urlopen(url, timeout=120) as response:
        parser = Anchors()
        parser.feed(response.read().decode("utf-8", "replace"))
    return frozenset(parser.anchors)


def pages(site):
    """Every HTML page of the site, as paths relative to its root (the theme's template fragments
    that Sphinx copies into _static are no pages)."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] not in ("_static", "_sources"))


#: Runs in the page: waits for MathJax to finish, then reports the maths, the images and the links.
INSPECT = """async () => {
  const maths = Array.from(document.querySelectorAll('.math, .amsmath'));
  if (maths.length && window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
  await Promise.all(Array.from(document.images).map(img => img.decode().catch(() => null)));
  await document.fonts.ready;               // MathJax's fonts load after the typesetting
  const text = e => e.textContent.slice(0, 80);
  const all = selector => Array.from(document.querySelectorAll(selector));
  return {
    maths: maths.length,
    untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(text),
    merrors: all('mjx-merror').map(text),
    mathjax: !!(window.MathJax && MathJax.version),
    sphinx_errors: all('.problematic, .system-message').map(text),
    images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth})),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  };
}"""


def test_every_page_in_a_real_browser(browser, site, server, tmp_path_factory):  # browser first: fail fast
    everything = pages(site)
    notebooks = [f"notebooks/{p.stem}.html" for p in sorted((REPO / "notebooks").glob("*.ipynb"))]
    for must in ["index.html", "course.html", "teaching.html", "models.html", "api.html",
                 *SHOTS.values(), *notebooks]:
        assert must in everything, f"{must} is missing from the site ({len(everything)} pages)"
    shots = Path(os.environ.get("NUMRNN_SITE_SHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)

    host = urlsplit(server).netloc
    problems, outside, checked_links, maths_pages, anchors_checked = [], [], {}, [], set()
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(request_route):
        url = request_route.request.url
        if urlsplit(url).netloc == host or url.startswith(("data:", "blob:", "about:")):
            request_route.continue_()
        else:                                   # the closed network would refuse it; say so and stop it
            outside.append(url)
            request_route.abort()

    context.route("**/*", route)
    context.set_default_timeout(180_000)      # a shared 2-core machine can be slow; never a flake
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"console error: {msg.text}"))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} ({req.failure})"))
    page.on("response", lambda resp: resp.status >= 400 and errors.append(f"HTTP {resp.status}: {resp.url}"))

    for name in everything:
        errors.clear()
        outside.clear()
        page.goto(server + name, wait_until="load")
        report = page.evaluate(INSPECT)
        page.wait_for_load_state("networkidle")   # nothing still loading when the next page opens
        if report["maths"]:
            maths_pages.append(name)
            if not report["mathjax"]:
                problems.append(f"{name}: {report['maths']} maths elements but MathJax did not load")
            if report["untypeset"]:
                problems.append(f"{name}: maths not typeset: {report['untypeset'][:3]}")
            if report["merrors"]:
                problems.append(f"{name}: TeX errors: {report['merrors'][:3]}")
        if report["sphinx_errors"]:               # markup Sphinx could not read, shown in red
            problems.append(f"{name}: Sphinx errors on the page: {report['sphinx_errors'][:3]}")
        for img in report["images"]:
            if img["width"] <= 0:
                problems.append(f"{name}: image not loaded: {img['src'][:120]}")
        for link in report["links"]:
            target, fragment = urldefrag(link)
            if urlsplit(target).netloc != host:
                continue
            if target not in checked_links:
                try:
                    with urllib.request.urlopen(target, timeout=120) as response:
                        checked_links[target] = response.status
                except urllib.error.HTTPError as err:
                    checked_links[target] = err.code
            if checked_links[target] != 200:
                problems.append(f"{name}: link {link} answers HTTP {checked_links[target]}")
            elif fragment and target.endswith(".html"):
                anchors_checked.add(link)
                if fragment not in page_anchors(target):
                    problems.append(f"{name}: link {link}: no anchor #{fragment} in {target}")
        problems += [f"{name}: {e}" for e in errors]
        problems += [f"{name}: request to the network: {url}" for url in outside]
        for shot, shot_page in SHOTS.items():
            if shot_page == name:
                if shot.startswith("notebook"):         # the notebook at its first figure
                    page.evaluate("document.querySelector('.cell_output img')"
                                  "?.scrollIntoView({block: 'center'})")
                page.screenshot(path=str(shots / f"{shot}.png"))
    context.close()

    assert not problems, f"{len(problems)} problems on {len(everything)} pages:\n" + "\n".join(problems[:60])
    # the pages that must show maths do, typeset (the loop above checked every one of them)
    for must in ["api/numrnn.nn.reference.html", "notebooks/02_bptt_by_hand.html", "api/numrnn.nn.rnn.html"]:
        assert must in maths_pages, f"{must} shows no maths: {maths_pages}"
    # every page is reached by a link, and the API's cross-references were followed to their anchors
    assert len(checked_links) >= len(everything), f"only {len(checked_links)} same-site pages linked"
    assert len(anchors_checked) > 200, f"only {len(anchors_checked)} links to anchors checked"
    for shot in SHOTS:
        assert (shots / f"{shot}.png").stat().st_size > 20_000, f"{shot}.png looks empty"


def test_notebook_pages_show_their_figures(site):
    """Each executed notebook page carries its pictures (the quick run's counts, as in test_notebooks)."""
    from test_notebooks import EXPECTED_IMAGES
    for notebook, expected in EXPECTED_IMAGES.items():
        if notebook.startswith("06_"):
            continue                             # 06 draws only where the treebank is found
        html = (site / "notebooks" / notebook.replace(".ipynb", ".html")).read_text()
        shown = len(re.findall(r'<img[^>]* src="\.\./_images/[^"]+\.png"', html))
        assert shown >= expected, f"{notebook}: {shown} pictures on its page, expected {expected}"
