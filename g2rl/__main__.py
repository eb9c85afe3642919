"""`python -m g2rl ...` is the same as the `g2rl` command (the workflow's rules use this form)."""

import sys

from g2rl.cli import main

sys.exit(main())
