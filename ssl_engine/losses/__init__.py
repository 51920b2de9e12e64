"""Pure loss functions over tensors, one module per collapse-prevention family."""

from ssl_engine.losses.contrastive import nt_xent_loss

__all__ = ["nt_xent_loss"]
