"""`python -m lstmcast.cli`: the command line."""

import sys

from lstmcast.cli import main

sys.exit(main())
