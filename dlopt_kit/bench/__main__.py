"""``python -m dlopt_kit.bench NAME``: see ``dlopt_kit.bench``."""

import sys

from dlopt_kit.bench import main

if __name__ == "__main__":
    sys.exit(main())
