"""Command line: ``python -m sknc demo`` and ``python -m sknc benchmark``."""

import argparse
import sys

EPILOG = """\
examples:
  python -m sknc demo
  python -m sknc benchmark --data my_data.npz
  python -m sknc benchmark --help

'python -m sknc COMMAND --help' describes each command's options.
"""


def main(argv=None):
    """Run the sknc command line; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m sknc",
        description="sknc: multi-label neural classification with the PAL loss.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="fit FixedETFClassifier and PALClassifier on built-in multi-label "
        "digits and print their scores",
        description="Fit FixedETFClassifier and PALClassifier on the built-in "
        "multi-label digits (one digit, or two digits in opposite corners of a "
        "20x20 canvas) and print their test scores as a Markdown table.",
        epilog="example:\n  python -m sknc demo --max-epochs 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--n-train",
        type=int,
        default=1000,
        help="training samples per multiplicity (default 1000)",
    )
    demo.add_argument(
        "--n-test",
        type=int,
        default=500,
        help="test samples per multiplicity (default 500)",
    )
    demo.add_argument(
        "--max-epochs", type=int, default=30, help="training epochs (default 30)"
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    demo.add_argument(
        "--device", default="cpu", help="torch device: cpu, cuda or auto (default cpu)"
    )
    from . import _benchmark

    bench = _benchmark.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "benchmark":
        return _benchmark.main(args, bench)

    from ._demo import format_table, run_demo

    print(
        "Multi-label digits: one digit or two digits in opposite corners of a "
        f"20x20 canvas; {2 * args.n_train} training and {2 * args.n_test} test "
        "images, 10 labels.\n"
    )
    rows = run_demo(
        n_train=args.n_train,
        n_test=args.n_test,
        max_epochs=args.max_epochs,
        random_state=args.random_state,
        device=args.device,
    )
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
