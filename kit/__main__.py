"""`python -m kit` is the same as the `kit` console script."""

from kit.cli import main

raise SystemExit(main())
