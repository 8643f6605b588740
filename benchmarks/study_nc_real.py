"""Neural collapse on real data: the M-lab NC law after default training (issue 19).

For the built-in digits and the seven Mulan data sets (official training
splits; features scaled as in ``bench_suite``: ``StandardScaler`` unless every
value is 0 or 1), fits ``PALClassifier()`` and ``FixedETFClassifier()`` with
default parameters and measures, on the training features:

1. NC1, NC2 (head), NC2 of the class means, NC3 and NCm, with the label means
   estimated as ``label_means='auto'`` chooses (the estimator and the rows it
   used are reported), for the plain and the frequency-weighted tag-wise
   average;
2. the law per multiplicity m: the fitted rho_m and the share R^2_m of the
   spread of the set means of size m that ``o + rho_m a_S`` explains, plain
   and frequency-weighted;
3. the unconstrained-feature model's prediction of rho_m
   (``sknc.ufm.collapsed_optimum`` of the symmetrised label structure, with
   the estimators' ``weight_decay`` and ``feature_decay`` as lambda_W and
   lambda_H), and for ``PALClassifier``'s normalised features the value a
   collapsed set mean on the sphere would have, sqrt(m (K-1) / (K-m));
4. the test rows whose label set never occurs in training, and how many of
   them each decoder (refitted on the same network outputs) predicts exactly.

Writes a Markdown report (``--out``), the numbers as JSON (``--json``) and one
figure (``--figure``): rho_m and R^2_m against m, per data set.

Examples
--------
    OMP_NUM_THREADS=1 python -m benchmarks.study_nc_real --threads 1 \\
        --out benchmarks/results/nc_real.md --figure docs/_static/nc_real.png
    python -m benchmarks.study_nc_real --threads 1 --datasets yeast scene \\
        --max-epochs 5
"""

import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone

from sknc import KNNDecoder, ONNDecoder, ThresholdDecoder, TopKDecoder
from sknc.metrics import neural_collapse_report
from sknc.ufm import collapsed_optimum

from . import (
    REPO_ROOT,
    Run,
    load_datasets,
    log,
    make_estimator,
    network_outputs,
    study_parser,
    table,
)

ESTIMATORS = {"pal": "PALClassifier()", "etf": "FixedETFClassifier()"}
DECODERS = {
    "ONN, observed sets": ONNDecoder(),
    "ONN, both": ONNDecoder(candidates="both"),
    "ONN, both, label means from all rows": ONNDecoder(
        candidates="both", label_means="all_rows"
    ),
    "ONN, both, frequency-weighted": ONNDecoder(
        candidates="both", weighting="frequency"
    ),
    "KNN (default), observed sets": KNNDecoder(),
    "KNN, both": KNNDecoder(candidates="both"),
    "KNN euclidean, both": KNNDecoder(candidates="both", metric="euclidean"),
    "threshold 0.5": ThresholdDecoder(),
    "top-k auto": TopKDecoder(),
}
WEIGHTINGS = ("uniform", "frequency")


def head(clf):
    """The head's first ``n_outputs_`` rows, as a float64 array."""
    W = clf.module_.head.weight[: clf.n_outputs_]
    return W.detach().cpu().double().numpy()


def law(clf, H, Y, seed):
    """The metrics and the tag-wise law, plain and frequency-weighted."""
    out = {}
    for weighting in WEIGHTINGS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = neural_collapse_report(
                H, Y, head(clf), random_state=seed, weighting=weighting
            )
        sizes = Y.sum(axis=1)
        sets = {}
        for row in np.unique(Y[sizes >= 2], axis=0):
            sets[int(row.sum())] = sets.get(int(row.sum()), 0) + 1
        out[weighting] = {
            **{k: report[k] for k in ("nc1", "nc2", "nc2_means", "nc3", "ncm")},
            "rho": report["rho"],
            "rho_r2": report["rho_r2"],
            "tagwise_r2": report["tagwise_r2"],
            "label_means": report["label_means"],
            "n_mean_rows": report["n_mean_rows"],
            "n_samples": report["n_samples"],
            "sets_per_size": sets,
            "warnings": sorted({str(w.message)[:160] for w in caught}),
        }
    return out


def ufm_prediction(clf, Y):
    """rho_m of the collapsed UFM optimum (and of a sphere for feature_norm)."""
    K = Y.shape[1]
    out = {}
    try:
        optimum = collapsed_optimum(
            Y,
            lambda_W=clf.weight_decay,
            lambda_H=clf.feature_decay_,
            symmetrize=True,
        )
        out["ufm"] = optimum["rho"]
    except ValueError as exc:  # e.g. no single-label row
        out["ufm"] = {}
        out["ufm_error"] = str(exc)
    if clf.feature_norm is not None:
        sizes = np.unique(Y.sum(axis=1))
        out["sphere"] = {
            int(m): math.sqrt(m * (K - 1) / (K - m)) for m in sizes if 2 <= m < K
        }
    return out


def unseen(clf, data, seed):
    """Exact match of each decoder on the test rows of unseen label sets."""
    X_train, Y_train, X_test, Y_test = data
    train_sets = {tuple(row) for row in Y_train}
    new = np.array([tuple(row) not in train_sets for row in Y_test])
    sizes, counts = np.unique(Y_test[new].sum(1), return_counts=True)
    out = {
        "rows": int(new.sum()),
        "sets": len({tuple(row) for row in Y_test[new]}),
        "sizes": {int(m): int(n) for m, n in zip(sizes, counts, strict=True)},
        "decoders": {},
    }
    train = network_outputs(clf, X_train)
    test = network_outputs(clf, X_test)
    Y = torch.as_tensor(Y_train)
    for name, template in DECODERS.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decoder = clone(template).fit(*train, Y)
            pred = decoder.predict(*test).cpu().numpy().astype(np.uint8)
        exact = (pred == Y_test).all(axis=1)
        out["decoders"][name] = {
            "unseen_right": int(exact[new].sum()),
            "other_exact": float(exact[~new].mean()),
            "all_exact": float(exact.mean()),
            "seconds": time.perf_counter() - start,
            "synthetic": int(
                (getattr(decoder, "prototype_counts_", torch.ones(1)) == 0).sum()
                + len(getattr(decoder, "synthetic_sets_", ()))
            ),
        }
    return out


def run_dataset(name, data, args):
    results = {}
    for key in args.estimators:
        start = time.perf_counter()
        params = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = make_estimator(key, args.seed, **params).fit(
                data.X_train, data.Y_train
            )
        fit_s = time.perf_counter() - start
        H = clf.transform(data.X_train)
        results[key] = {
            "fit_s": fit_s,
            "law": law(clf, H, data.Y_train, args.seed),
            "prediction": ufm_prediction(clf, data.Y_train),
            "unseen": unseen(clf, data, args.seed),
        }
        nc = results[key]["law"]["uniform"]
        log(
            f"  {name:9s} {key}: fit {fit_s:.0f} s, {nc['label_means']}, "
            f"NC1 {nc['nc1']:.3g}, NCm {nc['ncm']:.3g}, R2 {nc['tagwise_r2']:.3f} "
            f"({time.perf_counter() - start:.0f} s)"
        )
    return results


# ------------------------------------------------------------------ report
def fmt(value, spec="{:.3f}"):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return spec.format(value)


def metrics_table(results):
    rows = []
    for name, per in results.items():
        for key, r in per.items():
            u, f = r["law"]["uniform"], r["law"]["frequency"]
            rows.append(
                [
                    name,
                    ESTIMATORS[key],
                    f"{u['label_means']} ({u['n_mean_rows']} of {u['n_samples']})",
                    fmt(u["nc1"], "{:.3g}"),
                    fmt(u["nc2"]),
                    fmt(u["nc2_means"]),
                    fmt(u["nc3"]),
                    f"{fmt(u['ncm'])} / {fmt(f['ncm'])}",
                    f"{fmt(u['tagwise_r2'])} / {fmt(f['tagwise_r2'])}",
                    f"{fmt(f['nc1'], '{:.3g}')} / {fmt(f['nc3'])}",
                ]
            )
    return table(
        [
            "data set",
            "estimator",
            "label means (rows)",
            "NC1",
            "NC2 (head)",
            "NC2 (means)",
            "NC3",
            "NCm plain / freq.",
            "R² plain / freq.",
            "freq.: NC1 / NC3",
        ],
        rows,
    )


def law_table(results, max_m=6):
    rows = []
    for name, per in results.items():
        for key, r in per.items():
            u, f = r["law"]["uniform"], r["law"]["frequency"]
            pred = r["prediction"]
            for m in sorted(u["rho"]):
                if m > max_m:
                    continue
                rows.append(
                    [
                        name,
                        ESTIMATORS[key],
                        m,
                        u["sets_per_size"].get(m, 0),
                        fmt(u["rho"][m]),
                        fmt(u["rho_r2"].get(m)),
                        fmt(f["rho"].get(m)),
                        fmt(f["rho_r2"].get(m)),
                        fmt(pred.get("ufm", {}).get(m)),
                        fmt(pred.get("sphere", {}).get(m)),
                    ]
                )
    return table(
        [
            "data set",
            "estimator",
            "m",
            "sets",
            "rho_m plain",
            "R²_m plain",
            "rho_m freq.",
            "R²_m freq.",
            "UFM optimum",
            "sphere",
        ],
        rows,
    )


def unseen_table(results):
    names = list(DECODERS)
    rows = []
    for name, per in results.items():
        for key, r in per.items():
            u = r["unseen"]
            cells = [
                f"{d['unseen_right']} ({d['other_exact']:.3f})"
                for d in (u["decoders"][n] for n in names)
            ]
            rows.append([name, ESTIMATORS[key], f"{u['rows']} / {u['sets']}", *cells])
    return table(["data set", "estimator", "unseen rows / sets", *names], rows)


def figure(results, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), layout="constrained")
    names = list(results)
    colors = {n: f"C{i % 10}" for i, n in enumerate(names)}
    for row, key in enumerate(ESTIMATORS):
        ax_rho, ax_r2 = axes[row]
        for name in names:
            r = results[name].get(key)
            if r is None:
                continue
            u, f = r["law"]["uniform"], r["law"]["frequency"]
            ms = [m for m in sorted(u["rho"]) if math.isfinite(u["rho"][m])]
            if not ms:
                continue
            ax_rho.plot(
                ms,
                [u["rho"][m] for m in ms],
                "o-",
                color=colors[name],
                label=name,
                markersize=4,
            )
            pred = r["prediction"].get("ufm", {})
            pm = [m for m in ms if m in pred]
            if pm:
                ax_rho.plot(pm, [pred[m] for m in pm], ":", color=colors[name])
            r2 = [m for m in ms if math.isfinite(u["rho_r2"].get(m, math.nan))]
            ax_r2.plot(
                r2,
                [u["rho_r2"][m] for m in r2],
                "o-",
                color=colors[name],
                markersize=4,
                label=name,
            )
            r2f = [m for m in r2 if math.isfinite(f["rho_r2"].get(m, math.nan))]
            ax_r2.plot(
                r2f,
                [f["rho_r2"][m] for m in r2f],
                "x--",
                color=colors[name],
                markersize=4,
                alpha=0.7,
            )
        ax_rho.set_title(f"{ESTIMATORS[key]}: fitted rho_m (dotted: UFM optimum)")
        ax_rho.set_xlabel("multiplicity m")
        ax_rho.set_ylabel("rho_m")
        ax_rho.set_xscale("log", base=2)
        ax_rho.set_yscale("log", base=2)
        ax_rho.grid(True, alpha=0.3)
        ax_r2.set_title(f"{ESTIMATORS[key]}: R²_m (solid plain, dashed frequency)")
        ax_r2.set_xlabel("multiplicity m")
        ax_r2.set_ylabel("R²_m")
        ax_r2.set_xscale("log", base=2)
        ax_r2.set_ylim(-0.2, 1.02)
        ax_r2.grid(True, alpha=0.3)
    for ax in axes[:, 0]:
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    for ax in axes[:, 1]:
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize="small")
    fig.suptitle(
        "The tag-wise-average law on the training features after default training"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    log(f"[figure] {path}")


def main(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seed",
        "threads",
        "max_epochs",
        "out",
    )
    parser.add_argument(
        "--estimators",
        nargs="+",
        choices=list(ESTIMATORS),
        default=list(ESTIMATORS),
        help="sknc estimators (default: %(default)s)",
    )
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="write the numbers as JSON"
    )
    parser.add_argument(
        "--figure", default=None, metavar="FILE", help="write the figure (PNG)"
    )
    parser.add_argument(
        "--from-json",
        default=None,
        metavar="FILE",
        help="make the report and figure from a JSON of an earlier run",
    )
    args = parser.parse_args(argv)
    run = Run(args)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        info = {}
        for per in results.values():  # JSON keys of dicts are strings
            for r in per.values():
                for part in r["law"].values():
                    for field in ("rho", "rho_r2", "sets_per_size"):
                        part[field] = {int(m): v for m, v in part[field].items()}
                for field in ("ufm", "sphere"):
                    if field in r["prediction"]:
                        r["prediction"][field] = {
                            int(m): v for m, v in r["prediction"][field].items()
                        }
    else:
        datasets, info = load_datasets(args.datasets, args.data_dir, scaling="auto")
        results = {}
        for name, data in datasets.items():
            results[name] = run_dataset(name, data, args)
            if args.json:  # after each data set, so that a stop keeps them
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(results, indent=1))
    if args.figure:
        figure(results, args.figure)
    settings = [
        f"- estimators: {', '.join(ESTIMATORS[k] for k in args.estimators)}, "
        f"seed {args.seed}, max_epochs: "
        f"{args.max_epochs or 'default'}; one seed (a fit per data set and "
        "estimator)",
        "- metrics on the training features with label_means='auto'",
    ]
    if args.figure:
        figure_path = Path(args.figure).resolve()
        try:
            figure_path = figure_path.relative_to(REPO_ROOT)
        except ValueError:
            pass
        settings.append(f"- figure: {figure_path}")
    parts = [
        run.header("# Neural collapse on real data", settings, info),
        "## Metrics at the end of training\n\nNCm and R² (the share of the "
        "spread of the set means that the tag-wise model explains, over all "
        "sizes) for the plain and the frequency-weighted average; NC1 and NC3 "
        "with means fitted under the frequency-weighted model in the last "
        "column.",
        metrics_table(results),
        "## The law per multiplicity (m <= 6)\n\nrho_m fitted by least squares "
        "(sets counted once) and R²_m, plain and frequency-weighted; the "
        "prediction of the unconstrained-feature model (symmetrised label "
        "structure, lambda_W = weight_decay, lambda_H = feature_decay), and for "
        "normalised features the scale of a collapsed set mean on the sphere.",
        law_table(results),
        "## Unseen label sets in the test split\n\nTest rows whose label set "
        "never occurs in training; per decoder, refitted on the same network: "
        "how many of them it predicts exactly, and (in brackets) its exact "
        "match on the other test rows.",
        unseen_table(results),
    ]
    return run.finish("\n\n".join(parts))


if __name__ == "__main__":
    sys.exit(main())
