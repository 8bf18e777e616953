"""The node telemetry agent (`python -m agent`, a DaemonSet): samples, summarises, publishes.

Modules: `collector` (what a source implements), one module per source (`perf`, `resctrl`, `psi`,
`cgroup`), `window` (statistics), `loop` (the sampling loop), `exporter` (Prometheus gauges),
`publisher` (the node annotation) and `__main__` (the command line that wires them).
"""
