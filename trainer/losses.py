"""Losses and miners from pytorch-metric-learning, behind two names the rest of the code uses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pytorch_metric_learning import losses, miners

from .config import LOSSES
from .errors import ParameterError


@dataclass
class LossBundle:
    """A loss with its optional miner.  ``__call__`` takes embeddings, labels and optional explicit
    (anchor, positive, negative) index triplets."""

    name: str
    loss: torch.nn.Module
    miner: torch.nn.Module | None = None

    def __call__(
        self,
        emb: torch.Tensor,
        labels: torch.Tensor,
        triplets: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if triplets is not None:
            return self.loss(emb, labels, indices_tuple=triplets)
        if self.miner is not None:
            with torch.no_grad():
                mined = self.miner(emb, labels)
            if mined[0].numel() == 0:  # nothing hard enough: fall back to all triplets
                return self.loss(emb, labels)
            return self.loss(emb, labels, indices_tuple=mined)
        return self.loss(emb, labels)


def make_loss(
    name: str, *, margin: float = 0.2, temperature: float = 0.1, mining: str = "semihard"
) -> LossBundle:
    """``triplet``: margin loss on (anchor, positive, negative) with online mining of ``mining``
    triplets (pytorch-metric-learning's TripletMarginMiner); ``contrastive``: SimCLR's NT-Xent,
    where every other item in the batch with a different label is a negative."""
    if name == "triplet":
        miner = miners.TripletMarginMiner(margin=margin, type_of_triplets=mining) if mining != "all" else None
        return LossBundle(name, losses.TripletMarginLoss(margin=margin), miner)
    if name == "contrastive":
        return LossBundle(name, losses.NTXentLoss(temperature=temperature))
    raise ParameterError(f"unknown loss '{name}'; choose one of: {', '.join(LOSSES)}")
