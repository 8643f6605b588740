"""Any backbone: both estimators with a small CNN on the digits images.

Fits ``PALClassifier`` and ``FixedETFClassifier`` on the built-in
multi-label digits (20x20 images flattened to 400 features, standardised),
with their default MLP backbone and with :class:`SmallCNN` passed as
``module=SmallCNN``, over seeds 0..N-1 (cells are mean ± std). This table
was a section of ``bench_suite``'s report (``docs/benchmarks.md``) until it
moved here.

Examples
--------
    python -m benchmarks.bench_cnn --threads 1 --out /tmp/cnn.md
    python -m benchmarks.bench_cnn --threads 1 --seeds 1 --max-epochs 3
    python -m benchmarks.bench_cnn --device cuda --amp
"""

import sys

import numpy as np
from torch import nn

from . import (
    DIGITS_TEST,
    DIGITS_TRAIN,
    Run,
    Runner,
    cell,
    failures_section,
    int_cell,
    load_datasets,
    log,
    make_estimator,
    run_datasets,
    study_parser,
    table,
    warnings_section,
)

# key -> estimator and backbone in the table, name in the log and failures
FITS = {
    "pal": ("PALClassifier", "MLP 512 (default)", "PALClassifier"),
    "pal-cnn": (
        "PALClassifier",
        "SmallCNN, 64 features",
        "PALClassifier(module=SmallCNN, d=64)",
    ),
    "etf": ("FixedETFClassifier", "MLP 512 (default)", "FixedETFClassifier"),
    "etf-cnn": (
        "FixedETFClassifier",
        "SmallCNN, K=10 features",
        "FixedETFClassifier(module=SmallCNN, d=K)",
    ),
}
TITLE = "## Any backbone: a small CNN on the digits images"


class SmallCNN(nn.Module):
    """A small CNN backbone for flat square images (the digits' 20x20 canvas).

    Two ``Conv -> BatchNorm -> ReLU -> MaxPool`` blocks and a linear map to
    ``out_features`` features; the flat input is reshaped in ``forward``.
    """

    def __init__(self, side=20, out_features=64, channels=(16, 32)):
        super().__init__()
        c1, c2 = channels
        self.side = side
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.fc = nn.Linear(c2 * (side // 4) ** 2, out_features)

    def forward(self, X):
        return self.fc(self.conv(X.reshape(-1, 1, self.side, self.side)))


def build(key, seed, data, args):
    """The estimator ``key`` for ``seed`` (as ``bench_suite`` builds them)."""
    n_features, K = data.X_train.shape[1], data.Y_train.shape[1]
    options = {
        "device": args.device,
        "max_epochs": args.max_epochs,
        "amp": args.amp,
        "pin_memory": str(args.device).startswith("cuda"),
    }
    if key in ("pal", "etf"):
        return make_estimator(key, seed, **options)
    return make_estimator(
        key[:3],
        seed,
        **options,
        module=SmallCNN,
        module__side=int(round(np.sqrt(n_features))),
        module__out_features=64 if key == "pal-cnn" else K,
    )


def fit_dataset(args, name, data):
    runner = Runner(
        lambda key, seed, data, params: build(key, seed, data, args),
        label=lambda key: FITS[key][2],
        catch_errors=True,
        verbose_errors=args.verbose_errors,
        log=log,
    )
    for key in FITS:
        runner.run(name, data, key, range(args.seeds))
    return runner


def cnn_section(suite):
    rows = []
    for key, (estimator, backbone, _) in FITS.items():
        res = suite.results.get(("digits", key), [])
        if not res:
            rows.append([estimator, backbone, "failed"] + [""] * 4)
            continue
        rows.append(
            [estimator, backbone, int_cell(res, "params")]
            + [cell(res, m) for m in ("micro_f1", "subset_acc", "lrap")]
            + [cell(res, "fit_s", "{:.1f}")]
        )
    header = "estimator|backbone|trainable params|micro-F1|subset acc|LRAP|fit s"
    return "\n\n".join(
        [
            TITLE,
            "The digits are 20x20 images (`make_multilabel_digits`), flattened "
            "to 400 features and standardised like every other method's input. "
            "`SmallCNN` (defined in `bench_cnn.py`: two Conv3x3-BatchNorm-ReLU-"
            "MaxPool blocks with 16 and 32 channels, then a linear map to the "
            "features) reshapes each row to 1x20x20 in its `forward` and is "
            "passed as `module=SmallCNN` with `module__side=20` and "
            "`module__out_features` (64 for PALClassifier, K for "
            "FixedETFClassifier, whose `feature_dim` is then read from the "
            "module). Everything else stays at its default.",
            table(header.split("|"), rows),
        ]
    )


def parse_args(argv=None):
    parser = study_parser(
        __doc__,
        "seeds",
        "device",
        "amp",
        "max_epochs",
        "threads",
        "out",
        "checkpoint",
        "verbose_errors",
        seeds={"default": 3},
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    run = Run(args)
    args.git, args.jobs = run.git, 1
    datasets, info = load_datasets(["digits"])
    suite, _ = run_datasets(fit_dataset, args, datasets)
    settings = [
        f"- device: {args.device}; seeds: 0..{args.seeds - 1}; max_epochs: "
        + (
            "the estimators' default"
            if args.max_epochs is None
            else str(args.max_epochs)
        )
        + ("; mixed-precision training (--amp)" if args.amp else ""),
        f"- digits: make_multilabel_digits({DIGITS_TRAIN}) for train, "
        f"({DIGITS_TEST}) for test; StandardScaler",
    ]
    header = run.header("# sknc with a CNN backbone", settings, info)
    sections = [header, cnn_section(suite), failures_section(suite)]
    return run.finish("\n\n".join([*sections, warnings_section(suite)]))


if __name__ == "__main__":
    sys.exit(main())
