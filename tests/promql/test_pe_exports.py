"""The promql package exports what it promises."""

from __future__ import annotations

import pytest

import pytest_selfslo.promql as promql


@pytest.mark.parametrize("name", promql.__all__)
def test_export_resolves(name: str) -> None:
    assert getattr(promql, name).__name__ == name


def test_unknown_name() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        promql.nope  # noqa: B018
