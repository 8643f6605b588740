"""The benchmark's report: text, Markdown, CSV or JSON, and the leaders."""

import csv
import io
import json
import textwrap

from ._scoring import LOG_LOSS_EPS, METRICS

__all__ = ["COSTS", "FORMATS", "format_report", "leaders"]

# the columns after the metrics: key, header
COSTS = (("fit_s", "fit s"), ("predict_s", "predict s"), ("params", "params"))
FORMATS = ("text", "markdown", "csv", "json")
_COLUMNS = [key for key, *_ in METRICS] + [key for key, _ in COSTS]
_HEADERS = [header for _, header, *_ in METRICS] + [header for _, header in COSTS]
_LOWER = [header for _, header, _, higher in METRICS if higher is False]
_NOTE = (
    f"Higher is better, except {', '.join(_LOWER[:-1])} and {_LOWER[-1]}; "
    "macro-F1 with zero_division=0; LRAP and coverage error from "
    "decision_function (predict_proba for one-vs-rest, k-NN, MLP and the "
    "chain); log loss: the mean per-label binary log loss of predict_proba, "
    f"clipped to [{LOG_LOSS_EPS:g}, 1 - {LOG_LOSS_EPS:g}] (n/a: no "
    "probabilities); params: trainable parameters (- for k-NN)."
)


def leaders(results):
    """Return the method(s) that lead each metric.

    Values are compared at the precision the table shows them, so that ties
    in the table are ties here.

    Parameters
    ----------
    results : list of dict
        As returned by :func:`run_benchmark`.

    Returns
    -------
    best : dict
        Metric key -> list of the leading methods' names.
    """
    best = {}
    for key, _, decimals, higher in METRICS:
        # a method not scored on a metric (None, NaN, absent) leads nothing
        values = {
            row["name"]: round(row[key], decimals)
            for row in results
            if row.get(key) is not None and row[key] == row[key]
        }
        if not values:
            continue
        top = max(values.values()) if higher else min(values.values())
        best[key] = [name for name, v in values.items() if v == top]
    return best


def _cell(row, key):
    value = row[key]
    for metric, _, decimals, _ in METRICS:
        if key == metric:
            return "n/a" if value is None else f"{value:.{decimals}f}"
    if value is None:
        return "-"
    if key in ("fit_s", "predict_s"):
        return f"{value:.2f}"
    return str(value)


def _header_lines(report):
    return [
        f"Data: {report['data']['source']}: {report['data']['description']}",
        f"Split: {report['data']['split']}",
        f"Features: {report['preprocessing']}",
        f"Settings: {report['settings_text']}",
    ]


def _closing_lists(report, markdown):
    """Return the lists of the leaders, the unranked and the failed methods."""
    headers = {key: header for key, header, _, _ in METRICS}
    unranked = report.get("unranked", [])
    lists = (
        ("Best", [f"{headers[k]}: {', '.join(v)}" for k, v in report["best"].items()]),
        (
            "Not ranked (no fair comparison)",
            [f"{u['name']}: {u['reason']}" for u in unranked],
        ),
        (
            "Not scored (n/a)",
            [
                f"{row['name']}, {headers[key]}: {reason}"
                for row in report["results"]
                for key, reason in row.get("not_scored", {}).items()
            ],
        ),
        ("Failed", [f"{f['name']}: {f['error']}" for f in report["failures"]]),
    )
    lines = []
    for title, items in lists:
        if items:
            lines += ["", f"{title}:"] + ([""] if markdown else [])
            lines += [f"- {item}" if markdown else f"  {item}" for item in items]
    return lines


def _text_table(header, rows, align_left=1):
    widths = [
        max(len(str(line[j])) for line in [header, *rows]) for j in range(len(header))
    ]

    def fmt(line):
        cells = [
            str(c).ljust(w) if j < align_left else str(c).rjust(w)
            for j, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join(
        [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(row) for row in rows]
    )


def _json(report):
    public = {k: v for k, v in report.items() if k != "settings_text"}
    return json.dumps(public, indent=2) + "\n"


def _csv(report):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "name", *_COLUMNS])
    for row in report["results"]:
        writer.writerow(
            [row["method"], row["name"]]
            + ["" if row[c] is None else row[c] for c in _COLUMNS]
        )
    return buffer.getvalue()


def _markdown(report):
    lines = [f"- {line}" for line in _header_lines(report)]
    lines += ["", "| method | " + " | ".join(_HEADERS) + " |"]
    lines.append("|---|" + "---:|" * len(_HEADERS))
    for row in report["results"]:
        cells = []
        for c in _COLUMNS:
            text = _cell(row, c)
            if row["name"] in report["best"].get(c, ()):
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    lines += ["", _NOTE, *_closing_lists(report, markdown=True)]
    return "\n".join(lines) + "\n"


def _text(report):
    results = report["results"]
    lines = _header_lines(report) + [""]
    if results:
        rows = [[row["name"]] + [_cell(row, c) for c in _COLUMNS] for row in results]
        lines.append(_text_table(["method", *_HEADERS], rows))
        lines += ["", *textwrap.wrap(_NOTE, 79)]
    lines += _closing_lists(report, markdown=False)
    return "\n".join(lines) + "\n"


_FORMATTERS = {"text": _text, "markdown": _markdown, "csv": _csv, "json": _json}


def format_report(report, fmt="text"):
    """Write a benchmark report as text.

    Parameters
    ----------
    report : dict
        ``data`` (``source``, ``description``, ``split``), ``preprocessing``,
        ``settings``, ``settings_text``, ``results``, ``failures``,
        ``warnings``, ``best`` and ``unranked``, as :func:`benchmark` builds
        it.
    fmt : {'text', 'markdown', 'csv', 'json'}, default='text'
        Plain text (an aligned table), a Markdown table (the leading value of
        each metric in bold), CSV (one row per method, no header lines) or
        JSON (the whole report).

    Returns
    -------
    text : str
        Ends with a newline.
    """
    if fmt not in _FORMATTERS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return _FORMATTERS[fmt](report)
