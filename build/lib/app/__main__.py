"""`python -m app`: the same as the `cutout` command (app/cli)."""
import sys

from app.cli import main

sys.exit(main())
