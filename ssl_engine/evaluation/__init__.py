"""How good is a representation? Online kNN, a deterministic held-out split, a linear probe.

Evaluation is a collaborator of the trainer, never part of it: ``online.KnnEvaluator``
scores a method at each epoch end, ``linear_probe`` scores a finished model. Labels are
used here and only here; training never sees them.
"""
