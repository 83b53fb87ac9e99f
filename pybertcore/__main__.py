"""``python -m pybertcore`` and the ``pybertcore`` console script; see pybertcore.cli."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from pybertcore.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
