"""Publishing the NodeState on the node's `ai-scheduler.io/node-state` annotation.

`should_publish` is the pure rule: at most every `interval` seconds, sooner (but not more often than
`min_interval`) when a metric moves by more than `threshold`, appears or disappears. `Publisher` applies
it with an injected clock and any `Patcher`: `runtime.kube.Kube` (point it at any API server URL) or the
light `InClusterPatcher`, which the agent uses by default because importing the kubernetes client costs
~30 MB of RSS on every node. Either sends a JSON merge patch of that one annotation and nothing else.
"""

import json
import logging
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cluster.clock import Clock
from cluster.nodestate import ANNOTATION, METRICS, NodeState

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
MERGE_PATCH = "application/merge-patch+json"


class Patcher(Protocol):
    """What the publisher needs of an API client (`runtime.kube.Kube` has it)."""

    def patch_node_annotations(self, node: str, annotations: Mapping[str, str | None]) -> None: ...


class PublishError(RuntimeError):
    """The annotation could not be written; the message says what the API server or the network answered."""


def moved(previous: NodeState, current: NodeState, *, threshold: float) -> bool:
    """True when a metric appeared, disappeared, or its mean moved by more than `threshold`.

    The threshold is a share of the range for bounded metrics (fractions, percent) and of the previous
    value for unbounded ones (cpi, mpki, GB/s), so one number fits every unit.
    """
    if set(previous.metrics) != set(current.metrics):
        return True
    for name, summary in current.metrics.items():
        before = previous.metrics[name].mean
        spec = METRICS[name]
        scale = spec.high if spec.high is not None else abs(before)
        if scale == 0:
            if summary.mean != before:
                return True
        elif abs(summary.mean - before) / scale > threshold:
            return True
    return False


def should_publish(
    last: NodeState | None,
    current: NodeState,
    *,
    since_last: float,
    interval: float,
    min_interval: float,
    threshold: float,
) -> bool:
    """The publishing rule, on the last published state and the seconds since it was published."""
    if last is None or since_last >= interval:
        return True
    return since_last >= min_interval and moved(last, current, threshold=threshold)


class Publisher:
    """Offers each new NodeState to the rule and patches the annotation when it says so."""

    def __init__(
        self,
        patcher: Patcher,
        *,
        node: str,
        clock: Clock,
        interval: float = 30.0,
        min_interval: float = 5.0,
        threshold: float = 0.1,
    ) -> None:
        self._patcher = patcher
        self._node = node
        self._clock = clock
        self._interval, self._min_interval, self._threshold = interval, min_interval, threshold
        self._last: NodeState | None = None
        self._last_at = 0.0
        self._failing = False
        self._retry_at = 0.0
        self._retry_delay = min_interval

    def offer(self, state: NodeState) -> bool:
        """Publish `state` if the rule says so; True when the patch was sent and accepted.

        A failure is logged once per streak and retried after `min_interval`, doubling up to `interval`
        so that a cluster of agents does not hammer a struggling API server; the agent keeps sampling.
        Any exception from the patcher counts as a failure: it is the boundary to the API server, and an
        agent that dies on one bad response would leave the node without telemetry.
        """
        now = self._clock.monotonic()
        if now < self._retry_at or not should_publish(
            self._last,
            state,
            since_last=now - self._last_at,
            interval=self._interval,
            min_interval=self._min_interval,
            threshold=self._threshold,
        ):
            return False
        try:
            self._patcher.patch_node_annotations(self._node, {ANNOTATION: state.to_json()})
        except Exception as exc:  # the API boundary: see the docstring
            if not self._failing:
                log.warning(
                    "cannot publish NodeState of node %s (will retry): %s: %s", self._node, type(exc).__name__, exc
                )
            self._failing = True
            self._retry_at = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self._interval)
            return False
        if self._failing:
            log.info("publishing NodeState of node %s works again", self._node)
        self._failing = False
        self._retry_delay = self._min_interval
        self._last, self._last_at = state, now
        return True


@dataclass(frozen=True)
class InClusterPatcher:
    """A JSON merge patch of node annotations over HTTPS with the pod's service-account token, stdlib only.

    The token is re-read for every request because the kubelet rotates projected tokens.
    """

    server: str
    token_file: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_environment(cls, *, timeout: float = 10.0) -> "InClusterPatcher":
        """The API server a pod reaches through KUBERNETES_SERVICE_HOST/PORT, with the mounted token and CA."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise PublishError(
                "not running in a pod (KUBERNETES_SERVICE_HOST unset): pass --api-server or --kubeconfig"
            )
        host = f"[{host}]" if ":" in host else host
        return cls(
            server=f"https://{host}:{port}",
            token_file=os.path.join(SERVICE_ACCOUNT_DIR, "token"),
            ca_file=os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt"),
            timeout=timeout,
        )

    def patch_node_annotations(self, node: str, annotations: Mapping[str, str | None]) -> None:
        url = f"{self.server.rstrip('/')}/api/v1/nodes/{urllib.parse.quote(node, safe='')}"
        body = json.dumps({"metadata": {"annotations": dict(annotations)}}).encode()
        request = urllib.request.Request(url, data=body, method="PATCH", headers={"Content-Type": MERGE_PATCH})
        if self.token_file:
            try:
                with open(self.token_file, encoding="ascii") as handle:
                    request.add_header("Authorization", f"Bearer {handle.read().strip()}")
            except OSError as exc:
                raise PublishError(f"cannot read the service-account token {self.token_file}: {exc.strerror}") from exc
        context = ssl.create_default_context(cafile=self.ca_file) if url.startswith("https:") else None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise PublishError(f"PATCH node {node}: HTTP {exc.code}: {_status_message(exc)}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PublishError(f"cannot reach the API server at {self.server}: {exc}") from exc


def _status_message(exc: urllib.error.HTTPError) -> str:
    """The API server's Status message (e.g. an admission policy's denial), at most 300 characters."""
    try:
        message = json.loads(exc.read() or b"{}").get("message") or exc.reason
    except (ValueError, AttributeError, OSError):
        message = exc.reason
    return str(message)[:300]
