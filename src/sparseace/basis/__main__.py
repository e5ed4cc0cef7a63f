"""Print basis sizes per correlation order and centre species (``sparseace basis``).

    python -m sparseace.basis --elements Si --order 4 --totaldegree 23
"""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["basis", *sys.argv[1:]]))
