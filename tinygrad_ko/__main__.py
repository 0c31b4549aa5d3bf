"""``python -m tinygrad_ko``: see ``tinygrad_ko.cli``."""

from tinygrad_ko.cli import main

raise SystemExit(main())
