"""``python -m pytest_selfslo`` is the ``selfslo`` script."""

from pytest_selfslo.cli import main

raise SystemExit(main())
