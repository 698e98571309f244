"""``python -m pytest_selfslo`` is the ``selfslo`` script."""

from .cli import main

raise SystemExit(main())
