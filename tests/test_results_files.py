"""The committed results files: no machine's folders, and each says what it knows of its environment."""
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")
FILES = sorted(os.path.join(d, f) for d, _, fs in os.walk(ROOT) if "journal" not in d
               for f in fs if f.endswith((".md", ".json")))
MACHINE_FOLDER = re.compile(r"(?<![\w.$])/(?:work|root|home|tmp|Users|mnt|var)/")


def test_there_are_results_files():
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_no_machine_folder_in_a_results_file(path):
    with open(path, encoding="utf-8") as f:
        hits = [m.group(0) for m in MACHINE_FOLDER.finditer(f.read())]
    assert not hits, f"{path} names machine folders: {hits[:3]}"


@pytest.mark.parametrize("path", [p for p in FILES if p.endswith(".md")],
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_every_table_states_its_environment_or_that_it_was_not_recorded(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert ("Environment not recorded" in text) or re.search(r"Environment: .*kernel \w+", text), path
