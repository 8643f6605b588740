"""Saving and loading a fitted estimator's state beside skorch's parameters."""

import joblib
from sklearn.utils.validation import check_is_fitted

from ._device import resolve_device

__all__ = ["PersistenceMixin"]


class PersistenceMixin:
    """``save_params``/``load_params`` with sknc's fitted state (``f_state``).

    skorch saves the torch modules; a fresh estimator also needs what ``fit``
    learned besides them (the label encoding, the input size, the decoder).
    """

    def __setstate__(self, state):
        # skorch maps the saved tensors onto state["device"]: resolve 'auto'
        requested = state.get("device")
        if str(requested) == "auto":
            state = {**state, "device": resolve_device("auto")}
        super().__setstate__(state)
        self.device = requested

    # ----------------------------------------------------------- persistence
    # What fit learns beyond the torch state: needed to rebuild the network
    # and to decode its outputs in a fresh estimator.
    _fitted_state = (
        "n_features_in_",
        "feature_names_in_",
        "multilabel_",
        "label_names_",
        "n_outputs_",
        "classes_",
        "target_dtype_",
        "background_label_",
        "decoder_",
        "decoder_key_",
        "thresholds_",
    )

    def save_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        f_state=None,
        **kwargs,
    ):
        """Save the network's parameters, and optionally sknc's fitted state.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like or str, default=None
            See :meth:`skorch.NeuralNet.save_params`.
        f_state : file-like or str, default=None
            Where to save what ``fit`` learned besides the torch modules: the
            label encoding, the input size and the fitted decoder. With it,
            :meth:`load_params` restores a working model into a fresh
            estimator.
        **kwargs : dict
            Passed to :meth:`skorch.NeuralNet.save_params`.
        """
        super().save_params(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        if f_state is not None:
            check_is_fitted(self, "classes_")
            state = {
                k: getattr(self, k) for k in self._fitted_state if hasattr(self, k)
            }
            joblib.dump(state, f_state)

    def load_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        f_state=None,
        **kwargs,
    ):
        """Load what :meth:`save_params` saved.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like or str, default=None
            See :meth:`skorch.NeuralNet.load_params`.
        f_state : file-like or str, default=None
            sknc's fitted state saved with ``save_params(f_state=...)``. Load
            it to make an unfitted estimator (built with the same
            parameters) ready to predict; the network is initialised first.
        **kwargs : dict
            Passed to :meth:`skorch.NeuralNet.load_params`.
        """
        if f_state is not None:
            for key, value in joblib.load(f_state).items():
                setattr(self, key, value)
            if not self.initialized_:
                with self._training_context():
                    self.initialize()
        with self._device_context():
            try:
                super().load_params(
                    f_params=f_params,
                    f_optimizer=f_optimizer,
                    f_criterion=f_criterion,
                    f_history=f_history,
                    **kwargs,
                )
            except RuntimeError as exc:
                if "state_dict" not in str(exc) or "head." not in str(exc):
                    raise
                raise ValueError(
                    "The saved network's head does not match this estimator's: "
                    f"{exc}\nBuild the estimator with the parameters the model "
                    "was trained with. Models saved before PALClassifier "
                    "normalized its features by default need feature_norm=None."
                ) from exc
