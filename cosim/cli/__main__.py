"""``python -m cosim.cli``: the ``cosim`` command."""

import sys

from cosim.cli.parser import main

sys.exit(main())
