"""How long the estimator's routes are: X's route through fit and predict.

A runtime trace (``sys.setprofile``) follows ``X`` through ``fit`` and
``predict``: a *stop* is a call of a function of sknc that receives ``X`` or
data made from it (an array, tensor or dataset that a stop returned, or a
dataset whose ``__init__`` received it; skorch's functions pass it on but are
not counted); *steps back up* count the stops whose call depth
is not below the previous stop's (the route went back up to a caller before
going on). Also counted: decoders constructed per fit, and the names each
``*Mixin`` class of sknc uses through ``self`` without defining them (read
from the source)::

    python -m benchmarks.trace_routes

Run it on two commits to compare them (the numbers are the code's, not the
machine's).
"""

import ast
import inspect
import os
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.datasets import make_multilabel_classification

import sknc
from sknc.decoders import BaseDecoder

PACKAGE = Path(sknc.__file__).parent


def _roots():
    import skorch

    return (str(PACKAGE), str(Path(skorch.__file__).parent))


class RouteTracer:
    """Record the calls of sknc and skorch functions that receive X (or its kin)."""

    def __init__(self, X):
        self.kin = {id(X)}
        self.keep = [X]  # ids stay valid while the objects live
        self.stops = []
        self.depth = 0
        self.roots = _roots()
        self.decoders = 0
        self.pending = set()
        self.generators = set()

    def _mine(self, code):
        return code.co_filename.startswith(self.roots)

    def _carries(self, value):
        if id(value) in self.kin:
            return True
        if isinstance(value, (tuple, list)):
            return any(id(v) in self.kin for v in value)
        return False

    def _adopt(self, value):
        if isinstance(value, (tuple, list)):
            for v in value:
                self._adopt(v)
        elif _is_data(value):
            self.kin.add(id(value))
            self.keep.append(value)

    def __call__(self, frame, event, arg):
        code = frame.f_code
        if event == "call":
            self.depth += 1
            if not self._mine(code):
                return
            if code.co_name == "__init__":
                obj = frame.f_locals.get("self")
                if isinstance(obj, BaseDecoder) and type(obj).__init__.__code__ is code:
                    self.decoders += 1
            if code.co_flags & inspect.CO_GENERATOR:
                if id(frame) in self.generators:  # resumed, not called
                    return
                self.generators.add(id(frame))
            if not code.co_filename.startswith(self.roots[0]):
                return  # skorch's own machinery: not a stop of sknc's route
            n_args = code.co_argcount + code.co_kwonlyargcount
            names = code.co_varnames[:n_args]
            values = [frame.f_locals.get(n) for n in names]
            star = frame.f_locals.get("args") if code.co_flags & 0x04 else None
            if any(self._carries(v) for v in values) or (
                star is not None and self._carries(star)
            ):
                where = os.path.relpath(code.co_filename, Path(self.roots[0]).parent)
                self.stops.append((self.depth, f"{where}:{code.co_name}"))
                if code.co_name == "__init__" and "self" in frame.f_locals:
                    self._adopt(frame.f_locals["self"])
                self.pending.add(id(frame))
        elif event == "return":
            if id(frame) in self.pending:
                self.pending.discard(id(frame))
                if arg is not None:
                    self._adopt(arg)
            self.depth -= 1

    def summary(self):
        steps_back = sum(
            1
            for (before, _), (after, _) in zip(self.stops, self.stops[1:], strict=False)
            if after <= before
        )
        files = {stop.split(":")[0] for _, stop in self.stops}
        return len(self.stops), len(files), steps_back


def _is_data(value):
    """Arrays, tensors, sparse matrices, frames and datasets: what X becomes."""
    return (
        isinstance(value, (np.ndarray, torch.Tensor, torch.utils.data.Dataset))
        or sp.issparse(value)
        or hasattr(value, "iloc")
    )


def trace(call, X):
    tracer = RouteTracer(X)
    sys.setprofile(tracer)
    try:
        call()
    finally:
        sys.setprofile(None)
    return tracer


def mixin_free_names():
    """Names each sknc ``*Mixin`` uses through ``self`` without defining them."""
    result = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ClassDef) and node.name.endswith("Mixin")):
                continue
            defined, used = set(), set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    defined.add(item.name)
                elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                    targets = (
                        item.targets if isinstance(item, ast.Assign) else [item.target]
                    )
                    defined |= {t.id for t in targets if isinstance(t, ast.Name)}
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == "self"
                ):
                    if isinstance(sub.ctx, ast.Store):
                        defined.add(sub.attr)
                    else:
                        used.add(sub.attr)
            result[f"{path.relative_to(PACKAGE.parent)}:{node.name}"] = sorted(
                used - defined
            )
    return result


def main():
    X, Y = make_multilabel_classification(
        n_samples=200, n_features=10, n_classes=5, random_state=0
    )
    X = X.astype(np.float32)
    clf = sknc.PALClassifier(max_epochs=2, hidden_layer_sizes=(16,), random_state=0)
    fit = trace(lambda: clf.fit(X, Y), X)
    predict = trace(lambda: clf.predict(X), X)
    etf = sknc.FixedETFClassifier(
        max_epochs=1, hidden_layer_sizes=(16,), random_state=0
    )
    etf_fit = trace(lambda: etf.fit(X, Y), X)
    print("| route | stops | files | steps back up |")
    print("|---|---|---|---|")
    for name, tracer in (("fit's X", fit), ("predict", predict)):
        stops, files, back = tracer.summary()
        print(f"| {name} | {stops} | {files} | {back} |")
    print()
    print(
        f"decoders constructed per fit: PALClassifier {fit.decoders}, "
        f"FixedETFClassifier(feature_decay='auto') {etf_fit.decoders}"
    )
    free = mixin_free_names()
    print(f"names mixins use without defining: {sum(map(len, free.values()))}")
    for where, names in free.items():
        print(f"  {where}: {len(names)} {names}")
    if "-v" in sys.argv:
        for name, tracer in (("fit", fit), ("predict", predict)):
            print(f"\n{name}:")
            for depth, stop in tracer.stops:
                print("  " * min(depth, 40) + stop)


if __name__ == "__main__":
    main()
