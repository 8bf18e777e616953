"""Scoring: the tier vocabulary, the plugin framework, kube-scheduler plugins, the heuristic and transformer tiers.

`tiers` (the decision and the tier types every tier shares), `pressure` and `regimes` (the
interference vocabulary the tiers share), `framework`, `plugins` and `registry` (the kube-scheduler
plugins), `runtime` (the profile), `heuristic`, `transformer`, `breaker`, `collector` and `decide`
(the chain of tiers). The chain is assembled by `runtime.assemble`; training lives in `training`.
"""
