"""``python -m dlopt_kit doctor|prepare|compare|tune ...``: the kit's command line (``dlopt_kit.cli``)."""

import sys

from dlopt_kit.cli import main

if __name__ == "__main__":
    sys.exit(main())
