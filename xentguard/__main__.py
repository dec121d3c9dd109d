"""``python -m xentguard``: the same as the ``xentguard`` command."""

from xentguard.cli import main

raise SystemExit(main())
