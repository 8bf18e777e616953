"""The transformer tier: a small attention model that predicts a pod's slowdown on each candidate node.

Modules, bottom up: `features` (the candidates as token rows, pure numpy, shared by training and
serving), `scores` (predicted slowdown → 0..100 score and the pick, pure), `model` (the torch network
and its checkpoint), `tier` (the decision-chain tier with its latency budget) and `loading` (the tier
loaded on a thread of its own at start). The regime labels are `scoring.regimes`; training and
evaluation live in the `training` package.

Importing this package never imports torch: the scheduler pays for torch only when the tier runs
(`runtime.assemble` imports `tier` lazily, in the background for the scheduler).
"""

from pathlib import Path

from cluster.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ModelUnavailableError(UserError, RuntimeError):
    """The weights cannot be used (missing, unreadable, corrupt or from another feature version)."""


def model_path(configured: str) -> Path:
    """`scoring.model_path` as given, or, when relative and absent there, relative to the project root."""
    path = Path(configured)
    if path.is_absolute() or path.exists():
        return path
    return PROJECT_ROOT / path


def missing(path: Path) -> ModelUnavailableError:
    """The error for a weights file that does not exist."""
    return ModelUnavailableError(
        f"transformer weights {str(path)!r}: no such file; train them with `python -m training.train` or set "
        "scoring.model_path"
    )
