"""A distribution over label sets: the most probable sets of each sample.

Every decoder can describe its belief about a sample as a distribution over
label sets (:meth:`BaseDecoder.predict_set_proba`): the set-valued decoders
(:class:`ONNDecoder`, :class:`KNNDecoder`) hold one natively, and a decoder of
per-label probabilities gives the product distribution of independent labels
(:func:`top_product_sets`). The metric-optimal predictions of
:mod:`sknc.decoders._objectives` are built on it.
"""

from dataclasses import dataclass

import torch

__all__ = ["SetDistribution", "bit_patterns", "chunks", "top_product_sets"]

# Rows per chunk in the per-row computations: (rows, m, K) blocks.
_CHUNK_ELEMENTS = 2**22


def chunks(n, per_row):
    """Yield slices of ``range(n)`` whose ``(rows, per_row)`` blocks are small."""
    step = max(1, _CHUNK_ELEMENTS // max(per_row, 1))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def bit_patterns(r, device=None):
    """Return all ``2**r`` subsets of ``r`` items as a boolean ``(2**r, r)`` matrix."""
    bits = torch.arange(r, device=device)
    return ((torch.arange(2**r, device=device)[:, None] >> bits) & 1).bool()


@dataclass
class SetDistribution:
    """The most probable label sets of each sample, with their probabilities.

    Attributes
    ----------
    sets : torch.Tensor of shape (n_sets, K), dtype bool
        The candidate label sets, shared by all samples.
    index : torch.Tensor of shape (n_samples, m), dtype int64
        Each sample's candidates (rows of ``sets``), most probable first;
        -1 where a sample has fewer than ``m``.
    proba : torch.Tensor of shape (n_samples, m), dtype float64
        Their probabilities (0 where ``index`` is -1). A row sums to at most
        1: the probability of the sets left out is not listed.
    """

    sets: torch.Tensor
    index: torch.Tensor
    proba: torch.Tensor

    def members(self, rows=slice(None)):
        """Return the ``(n, m, K)`` boolean membership of the rows' candidates."""
        index = self.index[rows]
        members = self.sets[index.clamp(min=0)]
        return members & (index >= 0)[:, :, None]

    def marginals(self):
        """Return ``P(k in S)`` per sample and label, ``(n_samples, K)``."""
        n, K = self.index.shape[0], self.sets.shape[1]
        out = torch.zeros(n, K, dtype=torch.float64, device=self.proba.device)
        for rows in chunks(n, self.index.shape[1] * K):
            out[rows] = torch.einsum(
                "nm,nmk->nk", self.proba[rows], self.members(rows).double()
            )
        return out

    def mode(self):
        """Return the most probable set of each sample, ``(n_samples, K)`` bool."""
        best = self.proba.argmax(dim=1, keepdim=True)
        return self.sets[self.index.gather(1, best).squeeze(1).clamp(min=0)]

    def top(self, m):
        """Return the distribution of each sample's ``m`` most probable sets."""
        return SetDistribution(self.sets, self.index[:, :m], self.proba[:, :m])


def top_product_sets(marginals, m, n_flip=10):
    """Return the ``m`` most probable sets of independent labels.

    The most probable set takes every label with ``p >= 0.5``; the next ones
    flip the least confident labels. Flips are enumerated among each row's
    ``n_flip`` least confident labels (``2**n_flip`` patterns), which is exact
    whenever the ``m`` best sets differ from the mode only there.

    Parameters
    ----------
    marginals : torch.Tensor of shape (n, K)
        Per-label probabilities, strictly inside (0, 1).
    m : int
        Sets per sample.
    n_flip : int, default=10
        Labels per row whose flips are enumerated.

    Returns
    -------
    distribution : SetDistribution
        The sets (one table of the distinct sets of all rows) and their
        probabilities under the product distribution.
    """
    p = marginals.double().clamp(1e-12, 1 - 1e-12)
    n, K = p.shape
    r = min(n_flip, K)
    mode = p >= 0.5
    # log-probability lost by flipping each label, least confident first
    cost = (torch.log(p) - torch.log1p(-p)).abs()
    cost_r, labels_r = torch.topk(cost, r, dim=1, largest=False)
    patterns = (
        (
            torch.arange(2**r, device=p.device)[:, None]
            >> torch.arange(r, device=p.device)
        )
        & 1
    ).bool()  # (2^r, r)
    total = patterns.double() @ cost_r.T  # (2^r, n)
    m = min(m, 2**r)
    lost, best = torch.topk(total.T, m, dim=1, largest=False)  # (n, m)
    log_mode = torch.where(mode, torch.log(p), torch.log1p(-p)).sum(dim=1)
    proba = torch.exp(log_mode[:, None] - lost)
    # the sets: the mode with the chosen pattern's labels flipped
    sets = mode[:, None, :].expand(n, m, K).clone()
    flips = patterns[best]  # (n, m, r)
    rows = torch.arange(n, device=p.device)[:, None, None].expand(n, m, r)
    cols = labels_r[:, None, :].expand(n, m, r)
    slots = torch.arange(m, device=p.device)[None, :, None].expand(n, m, r)
    sets[rows[flips], slots[flips], cols[flips]] ^= True
    table, index = torch.unique(sets.reshape(n * m, K), dim=0, return_inverse=True)
    return SetDistribution(table, index.reshape(n, m), proba)
