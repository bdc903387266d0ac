"""``python -m cosim`` runs the command line."""

import sys

try:
    from cosim.cli import main
except ImportError as exc:
    if getattr(sys.modules.get("cosim"), "__file__", None) is not None:
        raise
    # A folder named cosim in the current directory hides the installed one:
    # one line saying so (cosim.cli words it) instead of a traceback.
    sys.exit(f"cosim: error: {exc}")

sys.exit(main())
