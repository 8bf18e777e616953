"""The only module that imports the kubernetes client: connection, and the calls the product makes.

Everything else works on plain JSON (`RawObject`) and the typed model. Every call carries a request
timeout so a dead connection cannot hang a caller.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

__all__ = ["ApiException", "Kube", "KubeConnectError", "to_plain"]


class KubeConnectError(RuntimeError):
    """No cluster configuration could be loaded (no kubeconfig, not in a cluster)."""


def to_plain(obj: Any) -> Any:
    """A kubernetes client model as the API's JSON (camelCase keys, RFC 3339 times); JSON passes through."""
    if isinstance(obj, Mapping):
        return obj
    return client.ApiClient().sanitize_for_serialization(obj)


@dataclass
class Kube:
    """A connection to one API server, with the request timeout applied to every call."""

    api: client.ApiClient
    timeout: float = 10.0

    @classmethod
    def connect(
        cls,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        server: str | None = None,
        timeout: float = 10.0,
    ) -> "Kube":
        """In-cluster config when running in a pod, else the kubeconfig (or `server` for a plain URL)."""
        configuration = client.Configuration()
        if server:
            configuration.host = server
        else:
            try:
                if kubeconfig is None and _in_cluster():
                    config.load_incluster_config(client_configuration=configuration)
                else:
                    config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
            except (ConfigException, OSError, TypeError) as exc:
                raise KubeConnectError(f"cannot load Kubernetes configuration: {exc}") from exc
        return cls(api=client.ApiClient(configuration), timeout=timeout)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def patch_node_annotations(self, node: str, annotations: Mapping[str, str | None]) -> None:
        """Set (or, with None, remove) annotations on a node with a JSON merge patch of just those keys."""
        self.core.patch_node(
            node,
            {"metadata": {"annotations": dict(annotations)}},
            _content_type=MERGE_PATCH,
            _request_timeout=self.timeout,
        )

    def get_node(self, node: str) -> dict[str, Any]:
        response = self.core.read_node(node, _preload_content=False, _request_timeout=self.timeout)
        return json.loads(response.data)


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
