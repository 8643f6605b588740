"""Numerical embeddings and a TabM-style ensemble under the two-halves protocol.

Issue 25 asks to study, not necessarily adopt, the inputs' treatments of
the tabular deep-learning literature against sknc's default
``input_scaling='robust'``. Each treatment is a ``PALClassifier`` on its
defaults (``input_scaling='robust'``, ``loss='pal_ls'``) but for its
backbone; every backbone keeps the default MLP's widths (one hidden layer of
512, 256 features):

- ``robust``: the default, the baseline;
- ``plr``: periodic embeddings, ``PeriodicEmbeddings(n_features, 24,
  lite=True)`` of ``rtdl-num-embeddings`` (PLR-lite: Gorishniy, Rubachev and
  Babenko, NeurIPS 2022), flattened, then the default MLP;
- ``ple``: piecewise-linear embeddings (``PiecewiseLinearEmbeddings(bins,
  16, activation=False, version='B')``) with 48 quantile bins from
  ``compute_bins`` on the robust-scaled training rows, then the default MLP;
- ``tabm``: a BatchEnsemble MLP of k=32 members with TabM's initialisation
  (``tabm`` package, Gorishniy et al., ICLR 2025; ``MLPBackboneBatchEnsemble``
  and ``LinearBatchEnsemble``), the members' features averaged into one
  feature vector for sknc's head;
- ``ens5``: ``n_estimators=5``, sknc's own ensemble of full networks.

The robust scaling runs first in every treatment (it is sknc's, inside the
network). ``--half tuning`` scores on a stratified fifth held out of each
training split (test splits unread), ``--half confirmation`` on the official
test splits (``benchmarks/README.md``, "Protocol"). Embeddings only make
sense for numeric features: the default sets are the numeric ones of each
half (yeast, scene; emotions, digits); medical, enron, bibtex and tmc2007 are
0/1 word indicators. The embeddings and TabM need ``pip install
rtdl-num-embeddings tabm`` (not dependencies of sknc)::

    python -m benchmarks.study_embeddings --half tuning --threads 1
"""

import importlib
import importlib.metadata
import importlib.util
import warnings

import numpy as np
import torch
from torch import nn

from sknc import PALClassifier
from sknc._modules import InputScaler, MLPBackbone

from . import Run, load_datasets, log, study_parser, warm_up
from ._protocol import COLUMNS, compare, fit_and_score, half_cases, half_report

NUMERIC = {"tuning": ["yeast", "scene"], "confirmation": ["emotions", "digits"]}
TREATMENTS = ("robust", "plr", "ple", "tabm", "ens5")
# the packages each treatment needs (imported lazily: not sknc's dependencies)
NEEDS = {"plr": "rtdl_num_embeddings", "ple": "rtdl_num_embeddings", "tabm": "tabm"}
PIP_NAMES = {"rtdl_num_embeddings": "rtdl-num-embeddings", "tabm": "tabm"}
# the default backbone's widths (sknc._modules.MLPBackbone, feature_dim 256)
HIDDEN, FEATURE_DIM = 512, 256


def _package(name):
    return importlib.import_module(name)


class PLRBackbone(nn.Module):
    """PLR-lite periodic embeddings, flattened, then the default MLP."""

    def __init__(self, n_features, d_embedding=24, feature_dim=FEATURE_DIM):
        super().__init__()
        rtdl = _package("rtdl_num_embeddings")
        self.embed = rtdl.PeriodicEmbeddings(n_features, d_embedding, lite=True)
        self.mlp = MLPBackbone(n_features * d_embedding, feature_dim, (HIDDEN,))

    def forward(self, X):
        return self.mlp(self.embed(X).flatten(1))


class PLEBackbone(nn.Module):
    """Piecewise-linear embeddings (given bin edges), flattened, then the MLP."""

    def __init__(self, bins, d_embedding=16, feature_dim=FEATURE_DIM):
        super().__init__()
        rtdl = _package("rtdl_num_embeddings")
        self.embed = rtdl.PiecewiseLinearEmbeddings(
            bins, d_embedding, activation=False, version="B"
        )
        self.mlp = MLPBackbone(len(bins) * d_embedding, feature_dim, (HIDDEN,))

    def forward(self, X):
        return self.mlp(self.embed(X).flatten(1))


class TabMBackbone(nn.Module):
    """A BatchEnsemble MLP of k members (TabM's); the members' features averaged.

    ``tabm.MLPBackboneBatchEnsemble`` (one block: ``LinearBatchEnsemble ->
    ReLU``, no batch normalization, TabM's initialisation: random signs for
    the first adapter, ones elsewhere) and a ``LinearBatchEnsemble`` to
    ``feature_dim``; the mean over the k members is the feature vector of
    sknc's (linear) head, so the logits are the members' mean logits.
    """

    def __init__(self, n_features, k=32, feature_dim=FEATURE_DIM):
        super().__init__()
        tabm = _package("tabm")
        self.view = tabm.EnsembleView(k=k)
        with warnings.catch_warnings():
            # start_scaling_init_chunks matters for embedded (chunked) inputs only
            warnings.simplefilter("ignore", UserWarning)
            self.mlp = tabm.MLPBackboneBatchEnsemble(
                d_in=n_features,
                n_blocks=1,
                d_block=HIDDEN,
                dropout=0.0,
                k=k,
                tabm_init=True,
                scaling_init="random-signs",
                start_scaling_init_chunks=None,
            )
        self.out = tabm.LinearBatchEnsemble(
            HIDDEN, feature_dim, k=k, scaling_init="ones"
        )

    def forward(self, X):
        return self.out(self.mlp(self.view(X))).mean(dim=1)


def ple_bins(X_train, n_bins=48):
    """Quantile bins of the robust-scaled training rows (as the network sees them).

    The scaler is fitted as ``fit`` fits sknc's (every row of these small
    sets). A constant column (scaled to 0) gets the single bin [-1, 1].
    """
    rtdl = _package("rtdl_num_embeddings")
    X = torch.as_tensor(X_train, dtype=torch.float32)
    with torch.no_grad():
        scaled = InputScaler(X.shape[1]).fit(X)(X)
    constant = (scaled == scaled[0]).all(dim=0)
    bins = [torch.tensor([-1.0, 1.0])] * X.shape[1]
    varying = torch.nonzero(~constant).flatten().tolist()
    if varying:
        n_bins = min(n_bins, len(X) - 1)
        edges = rtdl.compute_bins(scaled[:, varying], n_bins)
        for j, column in zip(varying, edges, strict=True):
            bins[j] = column
    return bins


def estimator(treatment, X_train, seed):
    """The ``PALClassifier`` of a treatment (defaults but for the backbone)."""
    n_features = X_train.shape[1]
    if treatment == "robust":
        return PALClassifier(random_state=seed)
    if treatment == "ens5":
        return PALClassifier(random_state=seed, n_estimators=5)
    if treatment == "plr":
        params = {"module": PLRBackbone, "module__n_features": n_features}
    elif treatment == "ple":
        params = {"module": PLEBackbone, "module__bins": ple_bins(X_train)}
    else:
        params = {"module": TabMBackbone, "module__n_features": n_features}
    return PALClassifier(random_state=seed, **params)


def check_packages(treatments):
    """Exit with a message when a treatment's package is not installed."""
    missing = sorted(
        {NEEDS[t] for t in treatments if t in NEEDS}
        - {m for m in set(NEEDS.values()) if importlib.util.find_spec(m)}
    )
    if missing:
        names = " ".join(PIP_NAMES[m] for m in missing)
        log(
            f"study_embeddings needs {names} (not a dependency of sknc): "
            f"`pip install {names}`, or leave out the treatments that need them "
            "(--treatments robust ens5)."
        )
        raise SystemExit(2)


def parse_args():
    parser = study_parser(
        __doc__, "data_dir", "seeds", "threads", "out", seeds={"default": 2}
    )
    parser.add_argument("--half", choices=sorted(NUMERIC), required=True)
    parser.add_argument(
        "--treatments",
        nargs="+",
        choices=TREATMENTS,
        default=list(TREATMENTS),
        help="the first is the baseline of the comparisons and fit-time ratios",
    )
    parser.add_argument(
        "--datasets", nargs="+", help="default: the half's numeric sets"
    )
    return parser.parse_args()


def versions(treatments):
    out = []
    for module in sorted({NEEDS[t] for t in treatments if t in NEEDS}):
        version = getattr(_package(module), "__version__", None)
        if version is None:
            version = importlib.metadata.version(PIP_NAMES[module])
        out.append(f"{PIP_NAMES[module]} {version}")
    return ", ".join(out)


def main():
    args = parse_args()
    # a column of two values (or a constant one) has one bin: the package warns
    warnings.filterwarnings("ignore", message="The .*-th feature has just two bin")
    check_packages(args.treatments)
    study = Run(args)
    names = args.datasets or NUMERIC[args.half]
    datasets, info = load_datasets(names, args.data_dir, scaling="none")
    warm_up()
    results = {}
    for name, seed, split in half_cases(datasets, args.half, args.seeds):
        for treatment in args.treatments:
            clf = estimator(treatment, split.X_train, seed)
            where = f"{name} seed {seed}: {treatment}"
            scores = fit_and_score(clf, split, where)
            results.setdefault((name, treatment), []).append(scores)
    base = args.treatments[0]
    header = ["data", "treatment", *(h for _, h, _ in COLUMNS)]
    header += ["fit s", "fit / " + base, "parameters"]

    def cost(runs, base_runs):
        fit_s = np.mean([s["fit_s"] for s in runs])
        base_s = np.mean([s["fit_s"] for s in base_runs])
        return [f"{fit_s:.1f}", f"{fit_s / base_s:.1f}", f"{runs[0]['params']:,}"]

    rows, summary = compare(results, datasets, args.treatments, cost)
    packages = versions(args.treatments)
    subject = f"PALClassifier defaults, backbones {', '.join(args.treatments)}" + (
        f" ({packages})" if packages else ""
    )
    title = "Numerical embeddings"
    half_report(study, args, title, subject, info, header, rows, summary)


if __name__ == "__main__":
    main()
