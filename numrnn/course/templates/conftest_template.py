"""Loads numrnn's pytest plugin: ``pytest --numrnn-cell FILE.py:NAME`` checks a cell class of yours."""
pytest_plugins = ["numrnn.course.plugin"]
