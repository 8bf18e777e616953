"""`python -m agent`: the node agent's command line, wiring collectors, loop, exporter and publisher.

`--once` samples one window and prints the NodeState JSON to stdout (debugging a node, tests); otherwise
the agent runs until SIGTERM, serving gauges on `--metrics-port` and patching the node's annotation.
The kubernetes client is imported only with `--kubeconfig` (off-cluster debugging): in a pod the agent
patches through the stdlib `InClusterPatcher`, which keeps its RSS far below the 50 MB budget.
"""

import argparse
import json
import logging
import math
import os
import socket
import sys
import threading
from collections.abc import Sequence

from agent import cgroup, exporter, perf, psi, publisher, resctrl
from agent.collector import Collector
from agent.loop import MAX_SAMPLES_PER_WINDOW, MIN_INTERVAL, Agent, Sink, check_cadence
from cluster.clock import SystemClock
from cluster.signals import on_stop_signals

log = logging.getLogger("agent")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""The scheduler's LOG_LEVEL values (`cluster.config.LoggingSettings`), restated: importing that module
loads pydantic, ~12 MB of RSS and 0.16 s of start on every node for one variable."""
LOG_FORMATS = ("text", "json")
"""The scheduler's LOG_FORMAT values, restated for the same reason."""


class ConfigError(ValueError):
    """A flag or file with a value the agent cannot use; the message names it and what is allowed."""


def seconds(text: str) -> float:
    """argparse type: a finite, positive number of seconds (`inf` would overflow the loop's arithmetic)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite, positive number of seconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--node",
        default=os.environ.get("NODE_NAME") or socket.gethostname(),
        help="node name (default: $NODE_NAME, else the host name)",
    )
    parser.add_argument("--window", type=seconds, default=30.0, help="seconds summarised per NodeState (default 30)")
    parser.add_argument(
        "--interval",
        type=seconds,
        default=1.0,
        help=f"seconds between samples (default 1; at least {MIN_INTERVAL}, "
        f"at most {MAX_SAMPLES_PER_WINDOW} per window)",
    )
    parser.add_argument("--once", action="store_true", help="print one NodeState JSON after one window and exit")
    parser.add_argument("--proc", default="/proc", help="procfs root (PSI, /proc/stat, perf_event_paranoid)")
    parser.add_argument("--sys", default="/sys", help="sysfs root (CPU list, L3 sizes; resctrl under fs/resctrl)")
    parser.add_argument("--cgroup", default=None, help="cgroup v2 mount (default: <sys>/fs/cgroup)")
    parser.add_argument("--resctrl", default=None, help="resctrl mount (default: <sys>/fs/resctrl)")
    parser.add_argument(
        "--pods-cgroup", default=None, help="pods' slice relative to --cgroup (default: kubepods.slice, else kubepods)"
    )
    parser.add_argument(
        "--memory-bandwidth-peak-gbps",
        type=float,
        default=None,
        help="the node's peak memory bandwidth in GB/s, for memory_bandwidth_ratio",
    )
    parser.add_argument(
        "--memory-bandwidth-peak-file",
        default=None,
        help="a file holding the peak in GB/s measured on this node, e.g. from a STREAM or Intel MLC run "
        "(used when the flag above is not given)",
    )
    parser.add_argument("--metrics-port", type=int, default=9477, help="Prometheus port (default 9477; 0 disables)")
    parser.add_argument("--metrics-address", default="0.0.0.0", help="address the exporter binds (default 0.0.0.0)")
    parser.add_argument(
        "--publish-interval", type=float, default=30.0, help="seconds between annotation patches (default 30)"
    )
    parser.add_argument(
        "--publish-min-interval",
        type=float,
        default=5.0,
        help="least seconds between patches when metrics move (default 5)",
    )
    parser.add_argument(
        "--publish-threshold",
        type=float,
        default=0.1,
        help="a move of a metric's mean that publishes early, as a share of its range, or of its "
        "last value when unbounded (default 0.1)",
    )
    parser.add_argument("--no-publish", action="store_true", help="do not patch the node annotation")
    parser.add_argument("--api-server", default=None, help="API server URL (default: the in-cluster service)")
    parser.add_argument("--token-file", default=None, help="bearer token file for --api-server")
    parser.add_argument("--ca-file", default=None, help="CA bundle for --api-server")
    parser.add_argument("--kubeconfig", default=None, help="use this kubeconfig (imports the kubernetes client)")
    return parser


def peak_gbps(args: argparse.Namespace) -> float | None:
    """The configured peak, else the measured one from the peak file; None when neither is there."""
    if args.memory_bandwidth_peak_gbps is not None:
        value, origin = args.memory_bandwidth_peak_gbps, "--memory-bandwidth-peak-gbps"
    elif args.memory_bandwidth_peak_file and os.path.exists(args.memory_bandwidth_peak_file):
        origin = f"--memory-bandwidth-peak-file {args.memory_bandwidth_peak_file}"
        try:
            with open(args.memory_bandwidth_peak_file, encoding="ascii") as handle:
                value = float(handle.read().strip())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{origin}: cannot read a number of GB/s ({exc})") from exc
    else:
        return None
    if not value > 0:
        raise ConfigError(f"{origin}: peak memory bandwidth must be a positive number of GB/s, got {value}")
    return value


def validate(args: argparse.Namespace) -> None:
    try:
        check_cadence(args.window, args.interval)
    except ValueError as exc:
        raise ConfigError(f"--interval {args.interval} and --window {args.window}: {exc}") from exc
    if not 0 <= args.metrics_port <= 65535:
        raise ConfigError(f"--metrics-port {args.metrics_port}: must be 0 (off) or a TCP port")
    if not 0 < args.publish_min_interval <= args.publish_interval:
        raise ConfigError(
            f"--publish-min-interval {args.publish_min_interval} and --publish-interval {args.publish_interval}: "
            "need 0 < min <= interval"
        )
    if args.publish_threshold <= 0:
        raise ConfigError(f"--publish-threshold {args.publish_threshold}: must be positive")


def collectors(args: argparse.Namespace) -> list[Collector]:
    cgroup_root = args.cgroup or os.path.join(args.sys, "fs/cgroup")
    resctrl_root = args.resctrl or os.path.join(args.sys, "fs/resctrl")
    return [
        perf.PerfCollector(sys_root=args.sys, proc_root=args.proc),
        resctrl.ResctrlCollector(resctrl_root=resctrl_root, sys_root=args.sys, peak_gbps=peak_gbps(args)),
        psi.PsiCollector(args.proc),
        cgroup.CgroupCollector(proc_root=args.proc, cgroup_root=cgroup_root, pods_cgroup=args.pods_cgroup),
    ]


def patcher(args: argparse.Namespace) -> publisher.Patcher:
    if args.kubeconfig:
        from runtime import kube  # noqa: PLC0415 - ~40 MB of RSS; only for off-cluster debugging

        try:
            return kube.Kube.connect(kubeconfig=args.kubeconfig)
        except kube.KubeConnectError as exc:
            raise ConfigError(f"--kubeconfig {args.kubeconfig}: {exc}") from exc
    if args.api_server:
        return publisher.InClusterPatcher(server=args.api_server, token_file=args.token_file, ca_file=args.ca_file)
    return publisher.InClusterPatcher.from_environment()


def configure_logging() -> None:
    """LOG_LEVEL and LOG_FORMAT (text or json) as CONTRACTS §6 says; logs go to stderr.

    ConfigError for a LOG_LEVEL or LOG_FORMAT the scheduler would refuse too (any case accepted, as before).
    """
    level = os.environ.get("LOG_LEVEL", "INFO")
    if level.upper() not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL {level!r}: must be one of {', '.join(LOG_LEVELS)}")
    form = os.environ.get("LOG_FORMAT", "text")
    if form.lower() not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT {form!r}: must be one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    if form.lower() == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    clock = SystemClock()
    try:
        configure_logging()
        validate(args)
        sources = collectors(args)
        sinks: list[Sink] = []
        if not args.once:
            if args.metrics_port:
                gauges = exporter.NodeStateCollector()
                exporter.serve(gauges, port=args.metrics_port, address=args.metrics_address)
                sinks.append(gauges.update)
            if not args.no_publish:
                sinks.append(
                    publisher.Publisher(
                        patcher(args),
                        node=args.node,
                        clock=clock,
                        interval=args.publish_interval,
                        min_interval=args.publish_min_interval,
                        threshold=args.publish_threshold,
                    ).offer
                )
    except (ConfigError, publisher.PublishError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    agent = Agent(sources, node=args.node, clock=clock, window_seconds=args.window, interval=args.interval, sinks=sinks)
    stop = threading.Event()
    on_stop_signals(stop.set)
    agent.open()
    try:
        state = agent.run(stop, steps=agent.samples_per_window + 1 if args.once else None)
    finally:
        agent.close()
    if args.once and state is not None:
        print(state.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
