"""Doctests of the documentation pages: ``pytest --doctest-glob="*.rst" docs``.

Only the hand-written pages are collected: not the Sphinx configuration or
extension (``--doctest-modules`` would import them), and not the files the
build generates.
"""

collect_ignore = ["conf.py", "_ext", "_templates", "_static"]
collect_ignore_glob = ["_build/*", "auto_examples/*", "gen_modules/*", "sg_execution_times.rst"]
