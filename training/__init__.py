"""Training and evaluation of the transformer tier, above `scoring` and `sim`: nothing the scheduler runs imports it.

`synthetic` (examples from the simulator), `counters` (the KubeMarla measurements), `fit` (the
training loop and the collected outcomes turned into examples), `train` (`python -m training.train`)
and `evaluate` (`python -m training.evaluate`: held-out clusters, real-counter pairs, the model card).
"""
