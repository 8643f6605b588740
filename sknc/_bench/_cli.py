"""The command line: ``python -m sknc demo`` and ``python -m sknc benchmark``."""

import argparse
import sys
import time
from pathlib import Path

from .._device import resolve_device
from ._data import load_data
from ._demo import format_table, run_demo
from ._estimators import ALIASES, DEFAULT_METHODS, METHODS
from ._report import FORMATS, format_report
from ._run import benchmark

__all__ = ["DESCRIPTION", "EPILOG", "add_parser", "cli", "main"]

DESCRIPTION = """\
Fit sknc's PALClassifier and FixedETFClassifier (default parameters) and the
scikit-learn estimators one would otherwise use on the same training data, and
score them all on the same test data: the built-in multi-label digits, or your
own data. Features are standardised (StandardScaler fitted on the training
part) unless every training value is 0 or 1."""


def _method_keys():
    """Return the epilog's list of methods, from the one table of them."""
    width = max(len(key) for key in [*METHODS, "all"]) + 2
    lines = [f"method keys (default: {','.join(DEFAULT_METHODS)}):"]
    lines += [f"  {key:<{width}}{name}" for key, name in METHODS.items()]
    lines.append(f"  {'all':<{width}}every method above")
    return "\n".join(lines) + "\n\n"


EPILOG = (
    _method_keys()
    + """\
data files:
  --data FILE.npz   arrays X_train, Y_train, X_test, Y_test (Y: 0/1, shape
                    n_samples x n_labels), or X and Y (split with --test-size)
  --data FILE.arff  multi-label ARFF (Mulan: --xml or --n-labels; MEKA: the
                    relation's -C option is read), split with --test-size,
                    or with --test-data TEST.arff

  A .npz may also hold label_names and feature_names (1-D string arrays):
  the report names the labels with them (ARFF files name their attributes).

output: a table of micro-F1, macro-F1 (zero_division=0), subset accuracy,
Hamming loss, label-ranking average precision (LRAP), coverage error, log loss
(mean per-label binary log loss of predict_proba; n/a, with the reason, for a
method without probabilities such as LinearSVC), fit and predict seconds and
trainable parameters, then the leading method of each metric. A method
that stopped at its iteration limit before converging (ConvergenceWarning) is
listed but leads nothing. JSON adds each label's F1 per method. Progress goes
to stderr, results to stdout (or --out). Exit status: 0 when every method
ran, 1 when one failed (the others are still reported), 2 for usage errors.

examples:
  python -m sknc benchmark
  python -m sknc benchmark --data emotions.npz --format markdown
  python -m sknc benchmark --data yeast.arff --xml yeast.xml --test-size 0.3
  python -m sknc benchmark --data train.arff --test-data test.arff --n-labels 6
  python -m sknc benchmark --methods pal,ovr-lr,knn --max-epochs 30 \\
      --format json --out results.json
  python -m sknc benchmark --max-epochs 20 --peer-epochs 20
"""
)


def _method_list(text):
    keys = [k for k in text.replace(",", " ").split() if k]
    out = []
    for key in keys:
        key = ALIASES.get(key, key)
        if key == "all":
            out.extend(METHODS)
        elif key in METHODS:
            out.append(key)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown method {key!r}; choose from {', '.join(METHODS)} or all"
            )
    return out


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def _test_size(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value >= 1:
        if value != int(value):
            raise argparse.ArgumentTypeError(
                "a fraction in (0, 1) or a whole number of rows"
            )
        return int(value)
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"a fraction in (0, 1) or a number of rows; got {text}"
        )
    return value


def _device(text):
    """``--device``: the device it names, resolved by the one device resolver."""
    try:
        return resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers):
    """Add the ``benchmark`` subcommand to an argparse ``subparsers`` object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``ArgumentParser.add_subparsers``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    parser = subparsers.add_parser(
        "benchmark",
        help="compare sknc with scikit-learn's multi-label estimators on the "
        "built-in digits or your own data",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        metavar="FILE",
        help=".npz or ARFF file (default: the built-in multi-label digits)",
    )
    data.add_argument(
        "--test-data",
        metavar="FILE",
        help="a separate test file (X and Y, or ARFF); --data is then the "
        "training part",
    )
    data.add_argument(
        "--test-size",
        type=_test_size,
        default=None,
        metavar="SIZE",
        help="test fraction, or number of rows, of the stratified split of data "
        "that is not split yet (default 0.25; iterative stratification can "
        "make the sizes differ slightly)",
    )
    data.add_argument(
        "--n-labels",
        type=_positive_int,
        metavar="N",
        help="ARFF: the number of label attributes (Mulan: the last N)",
    )
    data.add_argument("--xml", metavar="FILE", help="ARFF: Mulan XML label file")
    data.add_argument(
        "--label-location",
        choices=("start", "end"),
        help="ARFF: labels are the first or last --n-labels attributes",
    )
    data.add_argument(
        "--encode-nominal",
        action="store_true",
        help="ARFF: encode nominal features with non-numeric values as 0, 1, ...",
    )
    data.add_argument(
        "--n-train",
        type=_positive_int,
        metavar="N",
        help="digits: training images per multiplicity (default 1000: 1000 "
        "single digits and 1000 pairs)",
    )
    data.add_argument(
        "--n-test",
        type=_positive_int,
        metavar="N",
        help="digits: test images per multiplicity (default 500)",
    )
    data.add_argument(
        "--scaling",
        choices=("auto", "standard", "none"),
        default="auto",
        help="auto: StandardScaler unless all training values are 0/1 "
        "(default); standard: always; none: never",
    )
    model = parser.add_argument_group("methods")
    model.add_argument(
        "--methods",
        type=_method_list,
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods to compare, space- or comma-separated: "
        f"{', '.join(METHODS)}, all (default: {','.join(DEFAULT_METHODS)})",
    )
    model.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="epochs of sknc's estimators (default 100); the peers keep theirs",
    )
    model.add_argument(
        "--peer-epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="epochs of the neural peers: MLPClassifier's max_iter and the BCE "
        "net's max_epochs (default: their own, 300 and 100). A peer stopped "
        "before it converged is reported but not ranked",
    )
    model.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the neural methods, the split and the digits (default 0)",
    )
    model.add_argument(
        "--device",
        type=_device,
        default="cpu",
        help="torch device of sknc and the BCE net: cpu, cuda, cuda:N or auto "
        "(default cpu)",
    )
    model.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        metavar="N",
        help="torch and BLAS threads for every fit (default 1: on a small or "
        "busy machine more threads make fits slower and their times erratic)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), markdown, csv or json",
    )
    out.add_argument(
        "--out", metavar="FILE", help="write the results to FILE, not to stdout"
    )
    out.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr"
    )
    return parser


def main(args, parser):
    """Run ``python -m sknc benchmark`` with parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        From the parser of :func:`add_parser`.
    parser : argparse.ArgumentParser
        That parser, to report usage errors (exit status 2).

    Returns
    -------
    status : int
        0 when every method ran, 1 when at least one failed.
    """

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    methods = DEFAULT_METHODS
    if args.methods is not None:
        flat = [key for group in args.methods for key in group]
        methods = [key for key in METHODS if key in flat]  # report order, unique
        if not methods:
            parser.error("--methods: no method given")
    try:
        data = load_data(
            args.data,
            test_path=args.test_data,
            test_size=args.test_size,
            n_train=args.n_train,
            n_test=args.n_test,
            random_state=args.random_state,
            n_labels=args.n_labels,
            xml=args.xml,
            label_location=args.label_location,
            encode_nominal=args.encode_nominal,
        )
    except (OSError, ValueError, ImportError) as exc:
        parser.error(str(exc))
    start = time.perf_counter()
    report = benchmark(
        data,
        methods,
        scaling=args.scaling,
        max_epochs=args.max_epochs,
        peer_epochs=args.peer_epochs,
        random_state=args.random_state,
        device=args.device,
        threads=args.threads,
        log=log,
    )
    text = format_report(report, args.format)
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log(f"[done] {time.perf_counter() - start:.0f} s; results written to {path}")
    else:
        sys.stdout.write(text)
        log(f"[done] {time.perf_counter() - start:.0f} s")
    return 1 if report["failures"] else 0


_EPILOG = """\
examples:
  python -m sknc demo
  python -m sknc benchmark --data my_data.npz
  python -m sknc benchmark --help

'python -m sknc COMMAND --help' describes each command's options.
"""


def _add_demo_parser(subparsers):
    demo = subparsers.add_parser(
        "demo",
        help="fit FixedETFClassifier and PALClassifier on built-in multi-label "
        "digits and print their scores",
        description="Fit FixedETFClassifier and PALClassifier on the built-in "
        "multi-label digits (one digit, or two digits in opposite corners of a "
        "20x20 canvas) and print their test scores as a Markdown table.",
        epilog="examples:\n  python -m sknc demo --max-epochs 10\n"
        "  python -m sknc demo --threads 4\n\n"
        "Progress goes to stderr, the table to stdout.",
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
        "--device",
        type=_device,
        default="cpu",
        help="torch device: cpu, cuda or auto (default cpu)",
    )
    demo.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        metavar="N",
        help="torch threads for the fits (default 1: on a small or busy "
        "machine more threads make fits slower, not faster)",
    )
    demo.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr"
    )
    return demo


def _demo(args):
    print(
        "Multi-label digits: one digit or two digits in opposite corners of a "
        f"20x20 canvas; {2 * args.n_train} training and {2 * args.n_test} test "
        "images, 10 labels.\n",
        flush=True,
    )
    rows = run_demo(
        n_train=args.n_train,
        n_test=args.n_test,
        max_epochs=args.max_epochs,
        random_state=args.random_state,
        device=args.device,
        threads=args.threads,
        progress=None if args.quiet else sys.stderr,
    )
    print(format_table(rows))
    plural = "s" if args.threads > 1 else ""
    print(
        f"\nFit times: {args.threads} torch thread{plural} (--threads), after a "
        "warm-up fit that pays torch's one-off start-up cost."
    )
    return 0


def cli(argv=None):
    """Run ``python -m sknc``: parse ``argv`` and run the command it names.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after ``python -m sknc``; None: ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m sknc",
        description="sknc: multi-label neural classification with the PAL loss.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo_parser(sub)
    bench = add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "benchmark":
        return main(args, bench)
    return _demo(args)
