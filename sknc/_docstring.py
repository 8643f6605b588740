"""Shared numpydoc text, composed into docstrings at the class.

:class:`Substitution` fills ``{name}`` fields of a docstring (the way
imbalanced-learn shares parameter text), so a parameter is described once
for both estimators, and once for the neural-collapse metrics, their scorer,
tracker and plots (:func:`metric_params`).
"""

import textwrap

__all__ = [
    "ETF_FEATURE_DIM",
    "ETF_FEATURE_NORM",
    "ETF_FEATURE_DECAY",
    "PAL_FEATURE_DIM",
    "PAL_FEATURE_NORM",
    "PAL_FEATURE_DECAY",
    "SHARED_ATTRIBUTES",
    "Substitution",
    "estimator_params",
    "metric_params",
]


class Substitution:
    """Decorator filling ``{name}`` fields of a docstring with shared text.

    Only the fields named in ``params`` are filled: any other brace (the
    LaTeX of a formula, an option set such as ``{'etf', 'orthogonal'}``)
    stays as written, without escaping.

    Parameters
    ----------
    **params : str
        The text of each field.
    """

    def __init__(self, **params):
        self.params = params

    def __call__(self, obj):
        """Return ``obj`` with its docstring's fields filled."""
        doc = obj.__doc__
        for name, text in self.params.items():
            doc = doc.replace(f"{{{name}}}", text)
        obj.__doc__ = doc
        return obj


_ESTIMATOR_PARAMS = """\
    module : torch.nn.Module class or instance, default=None
        The backbone: maps a float32 batch ``(N, n_features)`` to ``(N, d)``
        features (a CNN reshapes the flat input in its ``forward``). None
        builds an :class:`~sknc.MLPBackbone` from ``hidden_layer_sizes``,
        ``feature_dim``, ``activation``, ``dropout`` and ``batch_norm``.
        Arguments for a custom module are given as ``module__<name>``; an
        instance is copied, never trained in place. ``d`` is read from a dry
        forward pass.
    criterion : torch loss class or instance, default=None
        None builds the PAL loss chosen by ``loss``. A custom criterion is
        called as ``criterion(logits, targets)``.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; extra arguments as ``optimizer__<name>``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=100
        Number of training epochs.
    batch_size : int, default=128
        Mini-batch size (``-1``: the whole data set). Training batches are
        shuffled every epoch (``iterator_train__shuffle=False`` turns it
        off); prediction pads its last batch to this size so that a
        sample's outputs do not depend on the batch it is predicted in.
    train_split : callable or None, default=None
        skorch's internal validation split. None trains on all data. For a
        validation split of multi-label data, pass a stratified one such as
        ``sknc.model_selection.MultilabelStratifiedValidSplit(0.2)``; skorch's
        default split does not work with a 2-D ``y``.
    hidden_layer_sizes : tuple of int, default=(512,)
        Hidden layer sizes of the default MLP backbone.
{feature_dim}
    activation : {{'relu', 'gelu', 'tanh', 'logistic', 'identity'}}, default='relu'
        Activation of the default backbone's hidden layers.
    dropout : float, default=0.0
        Dropout after each hidden layer of the default backbone.
    batch_norm : bool, default=True
        Batch normalization in the default backbone's hidden layers.
    weight_decay : float, default=5e-4
        Weight decay ``lambda_W`` passed to the optimizer (overridden by
        ``optimizer__weight_decay``).
{feature_decay}
{feature_norm}
{loss}
    decoder : {{'knn', 'onn', 'threshold', 'topk'}} or decoder instance, default='knn'
        How multi-label outputs become label sets and per-label
        probabilities; fitted on the training data at the end of ``fit``
        (prototypes from the training part, calibration from the validation
        part when there is a ``train_split``). ``'knn'``: the label set whose
        nearest training samples in feature space are closest
        (:class:`~sknc.KNNDecoder`, which keeps the training features);
        ``'onn'``: nearest label-set prototype (:class:`~sknc.ONNDecoder`,
        one mean per label set: use it for millions of training rows or to
        study the collapsed geometry); ``'threshold'``:
        :class:`~sknc.ThresholdDecoder`; ``'topk'``:
        :class:`~sknc.TopKDecoder`. Set a decoder's parameters with
        ``decoder__<name>`` (e.g. ``decoder__metric='cosine'``), also in a
        grid search.
    objective : {{'subset_accuracy', 'hamming', 'f1_micro', 'f1_macro', \
'f1_samples', 'jaccard_samples'}} or None, default=None
        The metric ``predict`` serves (multi-label): the prediction that is
        optimal for it under the decoder's distribution over label sets
        (``predict_set_proba``). ``'subset_accuracy'``: the most probable
        set; ``'hamming'``: each label whose probability is at least 0.5;
        ``'f1_micro'``/``'f1_macro'``: per-label probabilities over
        thresholds fitted with the decoder; ``'f1_samples'``: the general
        F-measure maximiser; ``'jaccard_samples'``: the expected-Jaccard
        maximiser (by far the slowest rule: about 80 times the others'
        predict time). None: the decoder's own rule. Changing it on a fitted
        estimator needs no refit; it is validated where ``predict`` uses it.
        See the user guide's page "Predictions for your metric".
    background_label : 'auto' or bool, default='auto'
        Train an extra, hidden label that marks the rows of ``y`` with no
        label, so that the empty set is a first-class outcome the decoder
        can predict. ``'auto'``: when the training ``y`` has such rows and
        the decoder's ``allow_empty`` is not False. The extra label never
        appears in the outputs.
    class_weight : None, 'balanced', dict or array-like, default=None
        Weights of the labels' terms of the PAL loss, ``sum_k y_k c_k l(z, k)``
        (multi-class: of the classes). ``'balanced'``: ``c_k = n_pos / (K' n_k)``
        for a label with ``n_k`` positive rows (``n_pos`` the positives of
        all labels, ``K'`` the labels that occur), so that rare labels weigh
        more and the weights average to 1 over the positives. A dict maps
        label names to weights (others get 1); an array gives one per label.
    n_estimators : int, default=1
        Number of networks trained side by side (an ensemble), each with its
        own initialisation, on the same mini-batches and each on its own
        loss. Their outputs are combined before decoding: the mean logits,
        and the members' features side by side (scaled by ``1/sqrt(M)``, so
        that distances between them are the members' average), which is
        what ``transform`` returns and what the decoder and the
        neural-collapse tools see. Training costs about ``n_estimators``
        times one network.
    early_stopping : 'auto' or bool, default='auto'
        Stop training when the loss on a stratified validation split
        (``validation_fraction`` of the rows,
        :class:`~sknc.model_selection.MultilabelStratifiedValidSplit`, or
        ``train_split`` when given) has not improved by ``tol`` (relative)
        for ``n_iter_no_change`` epochs, and restore the best epoch's
        weights (skorch's :class:`~skorch.callbacks.EarlyStopping`). The
        decoder is then fitted on the training part and calibrated on the
        validation part. ``'auto'``: on from 10,000 training rows, where
        a tenth of the rows is cheap and fixed epochs cost the most (see
        the user guide's training page for the measurements). A
        ``callbacks=[EarlyStopping(...)]`` of your own keeps working.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping stops.
    tol : float, default=1e-4
        Relative improvement of the validation loss that counts.
    calibration_cv : int or None, default=None
        Cross-fitted calibration: train ``calibration_cv`` more networks,
        each on all folds but one, and fit the decoder's calibration (its
        temperature or probability curve, averaged over the folds; the
        threshold of ``KNNDecoder(candidates='auto')``, fitted on the folds'
        held-out rows pooled) and the objectives' thresholds on their
        out-of-fold outputs. The network that predicts is still trained on
        every row. Costs ``calibration_cv`` more trainings; without it the
        calibration comes from the validation split when there is one, else
        from the training outputs, which are over-confident. Done by
        :meth:`fit` only (:meth:`fit_decoder` and :meth:`partial_fit`
        calibrate as without it).
    input_scaling : {{'robust'}} or None, default='robust'
        A treatment of the inputs inside the network, fitted by :meth:`fit`
        on the training rows (an evenly spaced sample of at most 20,000 of
        them, fewer for very wide inputs: 2**25 values), saved with the
        network's parameters and applied by every predict path.
        ``'robust'``: centre each feature on its median, divide by its
        interquartile range (half its range where that is zero), then clip
        smoothly, ``x / sqrt(1 + (x/3)^2)`` (RealMLP's treatment of heavy
        tails and outliers). It needs no scaler in front and is unchanged by
        one (the statistics follow any per-feature affine map). None feeds
        the inputs as given. The default by the benchmark's two-halves
        protocol: against a ``StandardScaler`` it gained on 2 of the 4
        tuning sets (yeast, medical; lost on scene), and on the confirmation
        sets 7.6 points of subset accuracy on the digits, little on bibtex
        and tmc2007, and lost 0.5 on emotions (``benchmarks/README.md``).
    label_proba : {{'auto', 'calibrated_wide', 'calibrated', 'decoder', \
'blend', 'head', 'linear', 'wide'}}, default='auto'
        Where the multi-label :meth:`predict_proba` (and
        ``objective='hamming'``, which thresholds it at 1/2) gets each
        label's probability. ``'decoder'``: the marginals of the decoder's
        distribution over label sets, the distribution ``predict`` and
        :meth:`predict_set_proba` use. ``'head'``: a per-label logistic head
        on the features (weights from zero, biases from the labels' prior
        log-odds), trained next to the PAL head with binary cross-entropy on
        the features detached: it never changes them, so ``predict`` is the
        same with every source, and it costs one linear layer. ``'blend'``:
        the mean of the two. ``'calibrated'``: in each row, the values
        closest to the blend that keep the decoder's order of the labels
        (an isotonic regression), so the ranking (LRAP, coverage error) is
        the decoder's and the levels are the blend's. ``'linear'``: one
        L2-regularised logistic regression per label on the robust-scaled
        inputs, fitted after the network by L-BFGS (the penalty chosen on a
        held-out fifth of the rows); ``'wide'``: the decoder's marginals and
        it, weighted 1/4 and 3/4 (a wide-and-deep combination).
        ``'calibrated_wide'``: as ``'calibrated'``, with the model of the
        inputs in the blend (the mean of the three): the decoder's ranking,
        levels that the inputs' linear evidence moves too.
        ``'auto'``: ``'calibrated_wide'``; where there are rows the network
        did not train on (the validation part: ``early_stopping``, on by
        default from 10,000 rows, or ``train_split``, the model of the
        inputs then fitted on the training part only; or the out-of-fold
        rows of ``calibration_cv``), whichever of ``'calibrated_wide'``,
        ``'calibrated'`` and ``'wide'`` has the lowest log loss on them.
        Where the model of the inputs would have more than 2**22
        coefficients (features x labels) it is ``'calibrated'`` and fits no
        model of the inputs. The choice is ``label_proba_``. Why: under the
        benchmark's two-halves protocol ``'calibrated_wide'`` lowered the
        Hamming loss at 1/2 on 7 of the 8 sets and the log loss on 6 against
        ``'calibrated'`` (the ranking is the same); ``'wide'`` ranks better
        where each label has linear evidence in the inputs (bag-of-words
        data: LRAP +2 to +4 points on medical, enron and bibtex) and worse
        where it has not (the digits' pixels: -4 points), and only rows the
        network did not train on tell which (its outputs on its own rows
        are over-confident; ``benchmarks/README.md``). The set-valued
        objectives and the F1 thresholds keep the decoder's distribution.
        ``'decoder'`` trains no head; ``'linear'``, ``'wide'``,
        ``'calibrated_wide'`` and an ``'auto'`` that chose one of them keep
        the model of the inputs (with it every other source can still be
        read: they train the head of the features too); the network is
        rebuilt from ``label_proba_`` when loaded, so a model needs no
        validation split or ``calibration_cv`` to load. A change after
        :meth:`fit` applies at once where the network has what the new
        source reads (``'auto'``: ``label_proba_``). Ignored in multi-class
        mode.
    dtype : {{'float32', 'float64'}}, default='float32'
        The network's floating-point precision; the inputs are converted to
        it. ``'float64'`` costs about twice the time and memory; it makes
        results reproducible to rounding where float32's rounding, amplified
        by training, is not (e.g. integer ``sample_weight`` against repeated
        rows with full batches).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the ETF
        rotation. With an int, two CPU fits give identical predictions; the
        caller's global torch random state is left untouched.
    device : str, torch.device or None, default='cpu'
        ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'`` or ``'auto'`` (CUDA,
        then MPS, when available, else CPU).
    verbose : int, default=0
        When positive, print a per-epoch log (stdout) and show a per-batch
        progress bar (tqdm, on stderr); 0 prints nothing.
    **kwargs : dict
        Any other :class:`skorch.NeuralNet` parameter (``callbacks``,
        ``iterator_train__*``, ``module__*``, ``optimizer__*``, ...)."""

SHARED_ATTRIBUTES = """Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Multi-class: the class labels. Multi-label: ``arange(K)`` or the
        DataFrame's column names; with ``K = 2`` labels, the list
        ``[array([0, 1]), array([0, 1])]`` (scikit-learn's multi-output
        convention, so that probability scorers see a multi-label problem).
    label_names_ : ndarray
        The label names (multi-label) or class labels (multi-class).
    multilabel_ : bool
        Whether the model was fitted on a 2-D label indicator.
    n_outputs_ : int
        Number of labels or classes ``K``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Input feature names, when ``X`` was a DataFrame with string columns.
    feature_dim_ : int
        Dimension of the features returned by ``transform`` (``d``, or
        ``n_estimators * d`` for an ensemble).
    n_trainable_params_ : int
        Number of trainable parameters of the network.
    decision_ : sknc.decoders.Decision or None
        The fitted decision (None in multi-class mode): the decoder and the
        objectives' thresholds, which ``predict``, ``predict_proba`` and
        ``predict_set_proba`` call with the network's outputs.
    decoder_ : decoder or None
        The fitted decoder, ``decision_.decoder_`` (None in multi-class
        mode). It sees one more label than ``y`` when ``background_label_``
        is True.
    class_weight_ : ndarray of shape (n_labels,) or None
        The label (or class) weights of the loss.
    early_stopping_ : bool
        Whether this fit stopped early on a validation split.
    label_proba_ : str
        The source ``label_proba='auto'`` chose at fit (``'calibrated'`` or
        ``'wide'``), or ``label_proba`` itself when it is not ``'auto'``.
    feature_decay_ : float
        The feature decay the network was trained with (``feature_decay``
        with ``'auto'`` resolved).
    background_label_ : bool
        Whether the network has the extra background label (its last
        output).
    target_dtype_ : numpy dtype or None
        dtype of the multi-label ``y``; ``predict`` returns the same.
    module_ : PALNet or EnsembleNet
        The trained network; its ``forward`` returns ``(logits, features)``
        (an ensemble's: every member's, stacked on dimension 1).
    history_ : skorch.History
        Per-epoch losses and timings."""

PAL_FEATURE_DIM = """\
    feature_dim : int or None, default=None
        Feature dimension ``d`` of the default backbone; None means 256.
        With a custom ``module``, None takes the module's output size and an
        int must match it."""

_FEATURE_NORM = """\
    feature_norm : None, float or 'learned', default={default!r}
        Normalized features: None trains plain features. Otherwise the
        features are projected onto the unit sphere, the head's rows are
        normalized too (without bias or scale), and the logits are cosines
        divided by a temperature: this number (e.g. 0.1), or ``'learned'``,
        one learned scalar starting at 0.1 (:class:`~sknc.NormalizedHead`).
        ``transform`` then returns the unit-norm features, and the feature
        decay has no effect. {why}"""

PAL_FEATURE_NORM = _FEATURE_NORM.format(
    default="learned",
    why="""The default by measurement on held-out parts of the training
        splits (see the benchmark report in the documentation).""",
)
ETF_FEATURE_NORM = _FEATURE_NORM.format(
    default=None,
    why="""Off by default: with the fixed frame it helped on some data sets
        and hurt on others (see the benchmark report in the documentation).""",
)

ETF_FEATURE_DIM = """\
    feature_dim : int or None, default=None
        Feature dimension ``d``; None means the number of labels ``K``. Must
        be at least ``K - 1``. The parameter to grid-search: small values
        save parameters. With a custom ``module``, None takes the module's
        output size and an int must match it."""


_FEATURE_DECAY = """\
    feature_decay : float or 'auto', default={default}
        Feature decay ``lambda_H``: adds ``lambda_H / 2`` times the mean
        squared norm of the batch's features to the training loss.
        ``'auto'``: 1e-2 when the decoder is ONN (``decoder='onn'`` or an
        :class:`~sknc.ONNDecoder`), whose nearest-prototype rule needs tight
        clusters, and 1e-4 otherwise; resolved when ``fit`` starts
        (``feature_decay_``), so a decoder swapped in later with
        ``fit_decoder`` decodes the network trained for the old one.{why}"""

PAL_FEATURE_DECAY = _FEATURE_DECAY.format(
    default="1e-4",
    why="""
        No effect with ``feature_norm``, whose features have unit norm.""",
)
ETF_FEATURE_DECAY = _FEATURE_DECAY.format(
    default="'auto'",
    why="""
        'auto' is the default by measurement: with ONN, 1e-2 gave better
        subset accuracy and Hamming loss on all 8 benchmark data sets; with
        the default kNN decoder it was mixed (see the user guide).""",
)


_LOSS = """\
    loss : {{'pal', 'pal_n', 'pal_ls', 'pal_focal', 'pal_mse'}}, default={default!r}
        ``'pal'``: the pick-all-label cross-entropy, one softmax
        cross-entropy per positive label; ``'pal_n'``: the same divided by
        the number of labels of each sample (see
        :class:`~sknc.PALCrossEntropyLoss`); ``'pal_ls'``: PAL with label
        smoothing 0.1 (each picked label's target keeps 0.9 and spreads 0.1
        over all labels); ``'pal_focal'``: the PAL focal loss with
        ``gamma=2`` (:class:`~sknc.PALFocalLoss`); ``'pal_mse'``: the PAL
        rescaled square loss with ``kappa=M=1`` (:class:`~sknc.PALMSELoss`).
        Change a loss's parameters with ``criterion__<name>``, e.g.
        ``criterion__label_smoothing=0.2``, ``criterion__gamma=1`` or
        ``criterion__normalize=True``. {why}"""

PAL_LOSS = _LOSS.format(
    default="pal_ls",
    why="""``'pal_ls'`` is the default by the
        two-halves protocol (``benchmarks/README.md``): better than
        ``'pal'`` on 18 of 24 (data set, metric) cells of the tuning half
        and on the digits and tmc2007 of the confirmation half, slightly
        worse on emotions and bibtex.""",
)
ETF_LOSS = _LOSS.format(
    default="pal",
    why="""Label smoothing, the default of
        :class:`~sknc.PALClassifier`, was worse with the fixed head on the
        tuning half of the protocol (better on 4 of 24 cells).""",
)


def estimator_params(feature_dim, feature_norm, feature_decay, loss):
    """Return the Parameters text of an estimator, with its own four entries."""
    return _ESTIMATOR_PARAMS.format(
        feature_dim=feature_dim,
        feature_norm=feature_norm,
        feature_decay=feature_decay,
        loss=loss,
    ).lstrip()


# Parameters of the neural-collapse metrics (sknc.metrics), shared with the
# scorer, the tracker and the plots; as written for a field 4 spaces in.
_METRIC_PARAMS = {
    "H": """
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device).""",
    "Y": """
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.""",
    "label_means": r"""
    label_means : {'auto', 'singletons', 'all_rows'}, default='auto'
        How the label means :math:`\mu_k` are estimated: ``'singletons'``,
        the mean of the multiplicity-1 samples of each label (the
        definition); ``'all_rows'``, a least-squares fit to every label
        set's mean under the tag-wise-average model (for data with few
        multiplicity-1 samples; see
        :func:`~sknc.metrics.neural_collapse_report`); ``'auto'``, the first
        when every label that occurs has a multiplicity-1 sample, else the
        second.""",
    "weighting": """
    weighting : {'uniform', 'frequency'}, default='uniform'
        The tag-wise average of a set's label means: plain, or weighted by
        the labels' frequencies (rows that contain each label).""",
    "chunk_size": """
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.""",
    "n_random": """
    n_random : int, default=1000
        Random label sets per size for the chance level of NCm; see
        :func:`~sknc.metrics.ncm`.""",
    "center": """
    center : bool, default=True
        Measure NCm and rho around the mean of the class means; see
        :func:`~sknc.metrics.ncm`.""",
}


def metric_params(indent=4):
    """Return the shared parameter entries of the neural-collapse metrics.

    For :class:`Substitution`: the fields ``{H}``, ``{Y}``,
    ``{label_means}``, ``{weighting}``, ``{chunk_size}``, ``{n_random}`` and
    ``{center}``.

    Parameters
    ----------
    indent : int, default=4
        Indentation of the fields in the docstring: 4 in a function or a
        class, 8 in a method.

    Returns
    -------
    params : dict of str to str
        The text of each field.
    """
    pad = " " * (indent - 4)
    return {
        name: textwrap.indent(text, pad).lstrip()
        for name, text in _METRIC_PARAMS.items()
    }
