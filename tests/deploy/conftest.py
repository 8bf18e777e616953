"""The deployment as the cluster would receive it: `kubectl kustomize deploy/`, rendered once per session."""

import subprocess
from pathlib import Path

import pytest
import yaml

from tests import tools

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="session")
def rendered() -> list[dict]:
    """Every object `kubectl kustomize deploy/` prints, in its order."""
    kubectl = tools.which("kubectl")
    if kubectl is None:
        pytest.skip(tools.missing("kubectl", "rendering the kustomize base (`kubectl kustomize deploy/`)"))
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize deploy/ failed: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def only(objects: list[dict], kind: str, name: str | None = None) -> dict:
    """The one rendered object of `kind` (named `name`, when given); generated names carry a hash suffix."""
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, rendered {[o['metadata']['name'] for o in found]}"
    return found[0]
