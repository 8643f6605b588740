"""skorch callbacks: neural-collapse metrics during training.

:class:`NeuralCollapseTracker` measures the neural-collapse metrics of
:mod:`sknc.metrics` on the training features (and optionally the validation
features) every few epochs and records them in the net's ``history``, from
which :func:`sknc.plotting.plot_nc_history` draws them.
"""

import numbers
import time

import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    Options,
    validate_parameter_constraints,
)
from skorch.callbacks import Callback
from skorch.dataset import unpack_data

from ._docstring import Substitution, metric_params
from .metrics._accumulator import NCAccumulator
from .metrics._checks import (
    GEOMETRY_CONSTRAINT,
    MEANS_CONSTRAINTS,
    SET_CONSTRAINTS,
    default_chunk_size,
)
from .metrics._estimator import head_weight
from .metrics._kernels import (
    HEAD_METRICS,
    METRICS,
    SCORED_METRICS,
    emit_warnings,
    measure,
)

__all__ = ["NeuralCollapseTracker"]


class _MetricNames(Options):
    """Constraint: a metric name, or a non-empty sequence of them.

    An ``Options`` subclass, since scikit-learn's validation accepts only
    its own constraint types.
    """

    def __init__(self):
        super().__init__(str, set(METRICS))

    def is_satisfied_by(self, val):
        names = (val,) if isinstance(val, str) else val
        try:
            names = tuple(names)
        except TypeError:
            return False
        return bool(names) and all(
            isinstance(name, str) and name in self.options for name in names
        )

    def __str__(self):
        return f"one of {list(METRICS)} or a non-empty sequence of them"


@Substitution(**metric_params())
class NeuralCollapseTracker(Callback):
    r"""Record neural-collapse metrics in a skorch net's history during training.

    At the end of every ``every``-th epoch, runs the network once over the
    training data in evaluation mode (no gradients, on the net's device),
    streams the penultimate features batch by batch into the sufficient
    statistics of :mod:`sknc.metrics` and records the requested metrics in
    ``net.history``. The network's train/eval mode and torch's global random
    state are restored afterwards, so training is exactly the same with and
    without the tracker.

    History keys, for each requested metric ``<m>``:

    - ``train_<m>``: on the training data (the part used for training when
      the net has a ``train_split``);
    - ``valid_<m>``: on the validation data, with ``on_valid=True``;
    - ``nc2``: the head alone, so there is one key, without a prefix;
    - ``train_rho_<k>`` / ``valid_rho_<k>``: with ``'rho'`` in ``metrics``,
      one key per multiplicity ``k >= 2``;
    - ``nc_dur``: seconds spent by the tracker in that epoch.

    Epochs that are skipped have none of these keys. Read a curve with
    ``net.history[:, "train_nc1"]`` (epochs without the key are left out)
    or draw them all with :func:`sknc.plotting.plot_nc_history`.

    Parameters
    ----------
    every : int, default=1
        Measure after epochs ``every``, ``2 * every``, ... (epochs are
        numbered from 1, as in the history).
    metrics : sequence of str, default=('nc1', 'nc2', 'nc2_means', 'nc3', 'ncm')
        Any of ``'nc1'``, ``'nc2'``, ``'nc2_means'``, ``'nc3'``, ``'ncm'``
        and ``'rho'`` (see :mod:`sknc.metrics`). ``'nc2'`` and ``'nc3'``
        need the module to have a ``head`` with a ``weight`` (as sknc's
        :class:`~sknc.PALNet`). ``'ncm'`` and ``'rho'`` are skipped for a
        net fitted on 1-D class labels (no sample has two labels).
    on_valid : bool, default=False
        Also measure the validation data. Needs a ``train_split``, e.g.
        ``train_split=MultilabelStratifiedValidSplit(0.2)``.
    {n_random}
    {center}
    random_state : int, RandomState instance or None, default=None
        Seeds the random label sets of NCm. One seed is drawn at the start
        of training and used at every epoch, so that the chance level does
        not jitter from epoch to epoch.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed geometry of the class means that ``'nc2_means'``
        measures: ``'etf'`` for unconstrained features (sknc's default
        backbone ends with a linear layer), ``'orthogonal'`` for a custom
        backbone whose features pass through a ReLU; see
        :func:`sknc.metrics.nc2_means`. The other metrics do not depend on
        it.
    {label_means}
    {weighting}

    Attributes
    ----------
    seed_ : int
        The seed of NCm's random label sets during the current training.

    See Also
    --------
    sknc.plotting.plot_nc_history : Curves of the recorded metrics.
    sknc.metrics.neural_collapse_report : The same metrics on any features.

    Notes
    -----
    The module's ``forward`` must return ``(logits, features)``, as sknc's
    :class:`~sknc.PALNet` does. Targets are the net's encoded training
    targets: a 0/1 indicator, or class indices (one-hot encoded). For sknc
    estimators only the first ``n_outputs_`` label columns and head rows
    are used.

    The cost is one forward pass over the training data per measured epoch
    (plus one over the validation data with ``on_valid=True``) and
    ``O(n d^2)`` work for the within-class covariance. With sknc's default
    MLP on a CPU, ``every=1`` made training about 40% longer and
    ``every=5`` about 10% (``python -m benchmarks.bench_tracker``).

    Examples
    --------
    >>> from sknc import FixedETFClassifier
    >>> from sknc.callbacks import NeuralCollapseTracker
    >>> from sknc.datasets import make_multilabel_digits
    >>> X, Y = make_multilabel_digits({1: 100, 2: 100}, random_state=0)
    >>> clf = FixedETFClassifier(
    ...     max_epochs=4, random_state=0,
    ...     callbacks=[NeuralCollapseTracker(every=2, random_state=0)],
    ... ).fit(X, Y)
    >>> len(clf.history[:, "train_nc1"])  # epochs 2 and 4
    2
    >>> sorted(k for k in clf.history[-1] if "nc" in k)
    ['nc2', 'nc_dur', 'train_nc1', 'train_nc2_means', 'train_nc3', 'train_ncm']
    """

    _parameter_constraints = {
        "every": [Interval(numbers.Integral, 1, None, closed="left")],
        "metrics": [_MetricNames()],
        "on_valid": ["boolean"],
        **SET_CONSTRAINTS,
        **GEOMETRY_CONSTRAINT,
        **MEANS_CONSTRAINTS,
    }

    def __init__(
        self,
        every=1,
        metrics=SCORED_METRICS,
        on_valid=False,
        n_random=1000,
        center=True,
        random_state=None,
        geometry="etf",
        label_means="auto",
        weighting="uniform",
    ):
        self.every = every
        self.metrics = metrics
        self.on_valid = on_valid
        self.n_random = n_random
        self.center = center
        self.random_state = random_state
        self.geometry = geometry
        self.label_means = label_means
        self.weighting = weighting

    # ------------------------------------------------------------ checks
    def _validate_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=type(self).__name__,
        )

    def _metric_names(self):
        return (self.metrics,) if isinstance(self.metrics, str) else tuple(self.metrics)

    def initialize(self):
        """Check the parameters; called by skorch when the net is initialized."""
        self._validate_params()
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Check that the net can be tracked and fix the seed of NCm."""
        self._validate_params()
        if self.on_valid and net.train_split is None:
            raise ValueError(
                "NeuralCollapseTracker(on_valid=True) measures the validation "
                "data, but the net has train_split=None. Pass a split, e.g. "
                "train_split=sknc.model_selection.MultilabelStratifiedValidSplit"
                "(0.2), or set on_valid=False."
            )
        rng = check_random_state(self.random_state)
        self.seed_ = int(rng.randint(2**31 - 1))

    # ------------------------------------------------------------ tracking
    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Measure the metrics and record them in ``net.history``."""
        epoch = net.history[-1, "epoch"]
        if epoch % self.every:
            return
        start = time.perf_counter()
        metrics = self._metric_names()
        if not hasattr(self, "seed_"):  # on_train_begin was not called
            self.seed_ = int(check_random_state(self.random_state).randint(2**31 - 1))
        module = net.module_
        was_training = module.training
        record = {}
        messages = []
        try:
            W = self._head(net, metrics)
            # the head alone (nc2): one key, without a prefix
            head_only = [name for name in metrics if not METRICS[name].needs_features]
            record.update(measure(None, W, head_only, messages, **self._options()))
            parts = [("train", dataset_train)]
            if self.on_valid:
                parts.append(("valid", dataset_valid))
            for prefix, dataset in parts:
                if dataset is None:
                    continue
                summary = self._summary(net, dataset)
                for key, value in self._measure(net, summary, W, metrics, messages):
                    record[f"{prefix}_{key}"] = value
        finally:
            module.train(was_training)
        emit_warnings(messages)
        for key, value in record.items():
            net.history.record(key, value)
        net.history.record("nc_dur", time.perf_counter() - start)

    def _head(self, net, metrics):
        """Return the head ``W`` (first ``n_outputs_`` rows) as float64, or None."""
        W = head_weight(net)
        if W is None and any(name in HEAD_METRICS for name in metrics):
            names = " and ".join(repr(name) for name in HEAD_METRICS)
            raise ValueError(
                f"NeuralCollapseTracker: metrics {names} need the "
                "classifier matrix as net.module_.head.weight (as in "
                "sknc.PALNet), which this module does not have. Leave them "
                "out of metrics."
            )
        return W

    def _options(self):
        """Return the options of the kernels, with NCm's seed of this training."""
        return {
            "geometry": self.geometry,
            "center": self.center,
            "n_random": self.n_random,
            "random_state": self.seed_,
        }

    def _summary(self, net, dataset):
        """Stream one eval-mode pass over ``dataset`` into an accumulator.

        Batches are buffered up to the accumulator's chunk size (about 4M
        feature values) so that it is updated a few times per pass, not once
        per batch.
        """
        accumulator = None
        n_outputs = getattr(net, "n_outputs_", None)
        buffer, buffered = [], 0
        # A DataLoader draws a base seed from torch's global generator each
        # time it is iterated: restore that state afterwards, so that the
        # tracker does not change the training batches' shuffling.
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for batch in net.get_iterator(dataset, training=False):
                _, yi = unpack_data(batch)
                out = net.evaluation_step(batch, training=False)
                if not isinstance(out, (tuple, list)) or len(out) < 2:
                    raise TypeError(
                        "NeuralCollapseTracker needs a module whose forward "
                        "returns (logits, features), as sknc.PALNet does; got "
                        f"{type(out).__name__}."
                    )
                logits, features = out[0], out[1]
                if yi is None:
                    raise ValueError(
                        "NeuralCollapseTracker needs the targets y; the "
                        "training data has none."
                    )
                Y = torch.as_tensor(yi).to(features.device)
                if Y.ndim == 1:  # class indices
                    Y = torch.nn.functional.one_hot(Y.long(), logits.shape[1])
                Y = Y[:, : n_outputs or logits.shape[1]]
                if accumulator is None:
                    accumulator = NCAccumulator(
                        Y.shape[1], set_scatter=self.label_means != "singletons"
                    )
                    limit = default_chunk_size(features.shape[1])
                buffer.append((features, Y))
                buffered += len(features)
                if buffered >= limit:
                    self._flush(accumulator, buffer)
                    buffer, buffered = [], 0
        if accumulator is None:
            raise ValueError("NeuralCollapseTracker: the dataset has no samples.")
        if buffer:
            self._flush(accumulator, buffer)
        return accumulator.summary(self.label_means, self.weighting)

    @staticmethod
    def _flush(accumulator, buffer):
        accumulator.update(
            torch.cat([features for features, _ in buffer]),
            torch.cat([Y for _, Y in buffer]),
        )

    def _measure(self, net, s, W, metrics, messages):
        """Yield ``(key, value)`` of the data-dependent metrics of summary ``s``."""
        local = list(s.messages)
        # a net fitted on class labels has no label set of two labels
        multilabel = getattr(net, "multilabel_", True)
        names = [
            name
            for name in metrics
            if METRICS[name].needs_features
            and (multilabel or not METRICS[name].needs_sets)
        ]
        W = None if W is None else W.to(s.mu.device)
        for name, value in measure(s, W, names, local, **self._options()).items():
            if isinstance(value, dict):  # rho: one key per multiplicity
                for m, v in value.items():
                    yield f"{name}_{m}", v
            else:
                yield name, value
        messages.extend(local)
