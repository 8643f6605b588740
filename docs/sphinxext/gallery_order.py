"""Order of the examples in the sphinx-gallery index (docs/conf.py).

sphinx-gallery sorts the examples of a gallery with a key class that it
builds from a dotted name given in ``within_subsection_order``; the name must
be importable (not a class defined in conf.py), so that Sphinx can cache the
configuration. Examples not listed here come after the listed ones, by file
name.
"""

ORDER = [
    "plot_quickstart.py",
    "plot_text_tfidf.py",
    "plot_cnn_backbone.py",
    "plot_frozen_features.py",
    "plot_decoders.py",
    "plot_objectives.py",
    "plot_tuned_decoder_cv.py",
    "plot_threshold_tuning.py",
    "plot_ranking_calibration.py",
    "plot_calibration_cv.py",
    "plot_sample_class_weight.py",
    "plot_early_stopping.py",
    "plot_save_load.py",
    "plot_grid_search_feature_dim.py",
    "plot_neural_collapse.py",
    "plot_ufm.py",
]


class ExampleOrder:
    """Sort key: the position in ORDER, then the file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        position = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return (position, filename)

    def __repr__(self):
        return f"<{self.__class__.__name__}>"
