"""`python -m cli`: the `reelgate` command."""

import sys

from cli import main

sys.exit(main())
