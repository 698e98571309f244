"""The docstring examples of every package module run and print what they show.

Examples that need a live service or user data are marked ``# doctest: +SKIP``
where they stand; everything else is executed here, from the repository root
(some examples lint or render the repo's own ``rules/``).
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
from pathlib import Path

import pytest

import pytest_selfslo

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    {pytest_selfslo.__name__}
    | {m.name for m in pkgutil.walk_packages(pytest_selfslo.__path__, "pytest_selfslo.")}
    - {"pytest_selfslo.__main__"})  # importing it runs the command line


def test_every_module_is_found() -> None:
    assert "pytest_selfslo.promql.engine" in MODULES and "pytest_selfslo.cli.demo" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    for test in finder.find(module, name):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, "".join(failures)
    assert os.getcwd() == str(ROOT)
