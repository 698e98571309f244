"""The package skeleton: console script, error tree, plugin registration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_selfslo._core import errors
from pytest_selfslo.cli import main


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.SelfSloError), name


@pytest.mark.parametrize(
    ("message", "path", "line", "expected"),
    [
        ("bad", "a.yml", 3, "a.yml:3: bad"),
        ("bad", "a.yml", None, "a.yml: bad"),
        ("bad", None, None, "bad"),
    ],
)
def test_located_prefixes_what_is_known(message: str, path: str | None, line: int | None,
                                        expected: str) -> None:
    assert errors.located(message, path, line) == expected


def test_console_script_help_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest_selfslo", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for command in ("replay", "generate", "test-rules", "lint", "canary", "serve"):
        assert command in out


def test_cli_without_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_plugin_is_registered_through_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--self-slo*"])
