"""The public surface: every name in ``pytest_selfslo.__all__`` resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_selfslo


@pytest.mark.parametrize("name", sorted(set(pytest_selfslo.__all__) - {"__version__"}))
def test_exported_name_resolves(name: str) -> None:
    value = getattr(pytest_selfslo, name)
    assert value is not None
    # the object really comes from the module the export table names
    module = pytest_selfslo._EXPORTS[name]
    assert getattr(value, "__module__", module).startswith("pytest_selfslo")


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pytest_selfslo.nope  # noqa: B018


def test_dir_lists_the_public_names() -> None:
    assert set(dir(pytest_selfslo)) == set(pytest_selfslo.__all__)


def test_importing_the_package_stays_cheap() -> None:
    """Loading the package (and so the pytest plugin) must not pull in the heavy stacks."""
    code = (
        "import sys, pytest_selfslo, pytest_selfslo.plugin\n"
        "heavy = [m for m in ('numpy', 'fastapi', 'prometheus_client', 'uvicorn') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
