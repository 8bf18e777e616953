"""Node telemetry: the NodeState contract, its sources and the node agent."""
