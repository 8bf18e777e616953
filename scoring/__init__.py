"""Scoring: the plugin framework, kube-scheduler plugins, the heuristic and transformer tiers, decide."""
