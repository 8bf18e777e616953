"""The scheduler's telemetry: NodeState sources (`sources`), its stats, logs, `/metrics` server and log review.

The NodeState contract itself is `cluster.nodestate`; the node agent that publishes it is `agent`.
"""
