"""The package version (one place; ``pytest_selfslo.__version__`` and the API report it)."""

__version__ = "0.1.0"
