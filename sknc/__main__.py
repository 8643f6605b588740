"""Command line: ``python -m sknc demo`` and ``python -m sknc benchmark``."""

import sys

from ._bench import cli


def main(argv=None):
    """Run the sknc command line; return the exit code."""
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
