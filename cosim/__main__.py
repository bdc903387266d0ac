"""``python -m cosim`` runs the command line."""

import sys

from cosim.cli import main

sys.exit(main())
