"""ssl_engine: self-supervised pretraining in plain PyTorch.

Every method is an energy-based model E(x, y): low for compatible pairs, high otherwise
(LeCun et al., "A Tutorial on Energy-Based Learning", 2006; the joint-embedding /
predictive / latent-variable map of LeCun, "A Path Towards Autonomous Machine
Intelligence", 2022). This package imports nothing from ``api`` or ``worker``.
"""
