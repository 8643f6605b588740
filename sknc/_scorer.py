"""Where NeuralCollapseScorer lived before ``sknc.metrics``; kept for old pickles.

A scorer pickled by an earlier version refers to ``sknc._scorer``: this alias
lets it load. New code imports it from :mod:`sknc` or :mod:`sknc.metrics`.
"""

from .metrics import NeuralCollapseScorer

__all__ = ["NeuralCollapseScorer"]
