"""The network and its checkpoint: attention across the candidate nodes, a slowdown per node.

Each candidate is a token (`features.tokens`). A linear embedding turns it into a `width`-wide vector;
`layers` induced self-attention blocks (Set Transformer's ISAB, Lee et al., ICML 2019) give every
node the cluster's context: `inducing` learnt queries attend over all candidates (summaries of the
cluster), and every candidate attends over those summaries. This is self-attention across the
candidates at O(N·M) instead of O(N²), so a 1,000-node decision stays within a few milliseconds on
one CPU thread, and it is independent of the candidates' order. With `layers=0`, as shipped (the ablation in
the model card), there is no attention: each node's prediction is its own token's, the cluster's context
reaching it through the features' distance from the cluster's medians. A per-node head predicts two numbers:
ln(the pod's P99 on the node over its P99 alone on the reference core), which node speed moves either way, and
the harm it does there, sum over the node's latency-critical pods of ln(their P99 with it / without), >= 0
(softplus). Padding tokens (training batches) are masked out of the keys.

What ships is an `Ensemble`: members trained alike but for their seed (their draw of the simulated clusters,
the example order and the initialisation), whose outputs are averaged. One seed's weights are one draw of
the training recipe, and on the held-out families two draws of the same recipe differ by more than two
recipes do (the model card); the mean is what the recipe stands for, at one forward pass per member.

The checkpoint is a plain dict of tensors, numbers and strings read with `torch.load(weights_only=True)`
(no pickled code): format and feature versions, the config, the number of members, the feature names, the
state dict (each member's feature scale as buffers) and the training summary. Anything wrong with it raises
`ModelUnavailableError` saying what and what to do. torch is imported here and by training only.
"""

import io
import math
import pickle
import threading
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import torch
from torch import nn

from scoring.transformer import ModelUnavailableError, missing
from scoring.transformer.features import FEATURE_NAMES, FEATURE_VERSION, Scale

FORMAT = "ai-llama-scheduler/transformer-scorer"
FORMAT_VERSION = 3
"""3: an ensemble of members; 2: one model with two outputs (P99 relative to the reference core, harm to
neighbours); 1 predicted the own slowdown only."""
OUTPUTS = 2
MAX_MEMBERS = 16
"""More members than this in a checkpoint is taken for a corrupt file (each costs a forward pass per decision)."""
_LOAD_ERRORS = (
    OSError,
    RuntimeError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    EOFError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
)


@dataclass(frozen=True)
class ModelConfig:
    features: int = len(FEATURE_NAMES)
    width: int = 32
    """Token width after the embedding."""
    heads: int = 2
    inducing: int = 8
    """Learnt summary queries per attention block."""
    layers: int = 0
    """Attention blocks (0: none). Since the training labels stopped reading the held-out campaigns (2026-12-06),
    one block no longer earns its cost in the leave-one-variant-out ablation (`python -m training.lofo`, rendered
    in the model card; re-judged at five members of 6,000 decisions, and again with CPU use on a log scale), so the
    shipped members have none; the block stays for that ablation."""
    hidden: int = 32
    """Width of each block's per-node feed-forward layer and of the head."""


class Attention(nn.Module):
    """Multi-head attention of queries over keys; `mask` [B, K] marks the real keys. `few_keys`: always a
    handful of keys (the summaries), which takes a faster form of the softmax at inference."""

    def __init__(self, width: int, heads: int, *, few_keys: bool = False) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.heads = heads
        self.few_keys = few_keys
        self.query = nn.Linear(width, width)
        self.key_value = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, q, d = queries.shape
        k, h = keys.shape[1], self.heads
        query = self.query(queries).view(b, q, h, d // h).transpose(1, 2)
        key, value = self.key_value(keys).view(b, k, 2, h, d // h).permute(2, 0, 3, 1, 4)
        logits = query @ key.transpose(-1, -2) * (d // h) ** -0.5
        if mask is not None:
            logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
        if self.few_keys and not self.training:
            # The same softmax over the keys, taken along the other axis of the transposed logits: aten's
            # softmax over a short last axis is ten times slower on CPU (0.29 against 0.03 ms for 1,000 nodes
            # over 8 summaries). Equal up to float rounding; training keeps the form its gradients were computed
            # in, so the shipped weights still reproduce bit for bit.
            weights = torch.softmax(logits.transpose(-1, -2), dim=-2).transpose(-1, -2)
        else:
            weights = torch.softmax(logits, dim=-1)
        mixed = weights @ value
        return self.out(mixed.transpose(1, 2).reshape(b, q, d))


class InducedSelfAttention(nn.Module):
    """ISAB: summaries attend over the nodes, nodes attend over the summaries, then a feed-forward layer."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.inducing = nn.Parameter(torch.randn(1, config.inducing, config.width) / math.sqrt(config.width))
        self.gather = Attention(config.width, config.heads)
        self.norm = nn.LayerNorm(config.width)
        self.spread = Attention(config.width, config.heads, few_keys=True)
        self.up = nn.Linear(config.width, config.hidden)
        self.down = nn.Linear(config.hidden, config.width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        seeds = self.inducing.expand(x.shape[0], -1, -1)
        summaries = self.norm(seeds + self.gather(seeds, x, mask))
        x = x + self.spread(x, summaries)
        return x + self.down(torch.relu(self.up(x)))


class SlowdownModel(nn.Module):
    """[B, N, F] raw tokens (and [B, N] real-node mask) → [B, N, 2]: predicted ln(P99 over P99 alone on the
    reference core) and harm to latency-critical neighbours (sum of their ln slowdowns, >= 0).

    The training set's feature scale is held as buffers, so the weights file carries it.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: ModelConfig, scale: Scale | None = None) -> None:
        super().__init__()
        self.config = config
        mean = np.zeros(config.features, np.float32) if scale is None else scale.mean
        std = np.ones(config.features, np.float32) if scale is None else scale.std
        self.register_buffer("mean", torch.tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("std", torch.tensor(np.asarray(std, dtype=np.float32)))
        self.embed = nn.Linear(config.features, config.width)
        self.folded = False
        self.blocks = nn.ModuleList(InducedSelfAttention(config) for _ in range(config.layers))
        self.hidden = nn.Linear(config.width, config.hidden)
        self.head = nn.Linear(config.hidden, OUTPUTS)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = torch.relu(self.embed(tokens if self.folded else (tokens - self.mean) / self.std))
        for block in self.blocks:
            x = block(x, mask)
        out = self.head(torch.relu(self.hidden(x)))
        return torch.stack((out[..., 0], nn.functional.softplus(out[..., 1])), dim=-1)


class Ensemble(nn.Module):
    """Members of one config, trained alike but for their seed; [B, N, F] tokens → the members' mean [B, N, 2]:
    the geometric mean of their P99 factors (the mean of the logs) and the mean of their harms."""

    def __init__(self, members: Sequence[SlowdownModel]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        configs = {m.config for m in members}
        if len(configs) > 1:
            raise ValueError(f"the members' configs differ: {sorted(map(str, configs))}")
        self.config = members[0].config
        self.members = nn.ModuleList(members)

    @property
    def models(self) -> list[SlowdownModel]:
        """The members, typed (`nn.ModuleList` holds any module)."""
        return cast("list[SlowdownModel]", list(self.members))

    @property
    def folded(self) -> bool:
        return all(m.folded for m in self.models)

    @property
    def fill(self) -> np.ndarray:
        """Per feature, the members' mean training mean: the value of a metric nobody in the cluster measures."""
        return np.mean([m.mean.numpy() for m in self.models], axis=0).astype(np.float32)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([m(tokens, mask) for m in self.models]).mean(0)


def folded(model: Ensemble) -> Ensemble:
    """`model` with each member's feature scale folded into its embedding, for inference: W/std and b - W·mean/std.

    Equal up to float rounding, and one pass over the [nodes, features] tokens fewer per member (a broadcast
    division costs a tenth of the forward pass on 1,000 nodes). The buffers keep the scale (`Ensemble.fill`).
    """
    with torch.no_grad():
        for member in model.models:
            if member.folded:
                continue
            weight = member.embed.weight / member.std
            member.embed.bias.sub_(weight @ member.mean)
            member.embed.weight.copy_(weight)
            member.folded = True
    return model


@dataclass(frozen=True)
class Checkpoint:
    model: Ensemble
    summary: Mapping[str, Any]
    """What training recorded (seed, data, epochs, losses), for the model card."""


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save(path: str | Path, model: Ensemble | SlowdownModel, summary: Mapping[str, Any]) -> None:
    """Write the checkpoint atomically (a temporary file renamed over the target); same inputs, same bytes.

    A single model is saved as an ensemble of one."""
    model = model if isinstance(model, Ensemble) else Ensemble([model])
    if any(m.folded for m in model.models):
        raise ValueError("a model folded for inference cannot be saved; save the trained one")
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_version": FEATURE_VERSION,
        "feature_names": list(FEATURE_NAMES),
        "config": asdict(model.config),
        "members": len(model.members),
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "summary": dict(summary),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)  # to a buffer: the archive's inner name no longer depends on the file's name
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(path)


def load(path: str | Path) -> Checkpoint:
    """The checkpoint at `path`, checked end to end (a dry run must give finite outputs)."""
    path = Path(path)
    where = f"transformer weights {str(path)!r}"
    if not path.is_file():
        raise missing(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as exc:
        raise ModelUnavailableError(
            f"{where}: unreadable ({type(exc).__name__}: {str(exc)[:160]}); retrain with `python -m training.train`"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelUnavailableError(f"{where}: not a transformer-scorer checkpoint")
    if payload.get("format_version") != FORMAT_VERSION or payload.get("feature_version") != FEATURE_VERSION:
        raise ModelUnavailableError(
            f"{where}: made for checkpoint format {payload.get('format_version')} / features "
            f"{payload.get('feature_version')}, this build reads {FORMAT_VERSION} / {FEATURE_VERSION} (format 3 "
            "is an ensemble predicting P99 on the reference core and harm to neighbours); retrain with "
            "`python -m training.train`"
        )
    if tuple(payload.get("feature_names") or ()) != FEATURE_NAMES:
        raise ModelUnavailableError(f"{where}: its feature names differ from this build's; retrain")
    try:
        known = {f.name for f in fields(ModelConfig)}
        config = ModelConfig(**{k: int(v) for k, v in dict(payload["config"]).items() if k in known})
        members = int(payload["members"])
        if not 1 <= members <= MAX_MEMBERS:
            raise ValueError(f"{members} members (1 to {MAX_MEMBERS} are read)")
        model = Ensemble([SlowdownModel(config) for _ in range(members)])
        model.load_state_dict(payload["state_dict"])
        if not all(bool((m.std > 0).all()) for m in model.models):
            raise ValueError("the feature scale has a non-positive deviation")
    except _LOAD_ERRORS as exc:
        raise ModelUnavailableError(f"{where}: corrupt ({type(exc).__name__}: {str(exc)[:160]}); retrain") from exc
    model.eval()
    with torch.inference_mode():
        probe = model(torch.zeros(1, 2, config.features))
    if not bool(torch.isfinite(probe).all()):
        raise ModelUnavailableError(f"{where}: its weights give non-finite outputs; retrain")
    return Checkpoint(model, dict(payload.get("summary") or {}))


class Predicted(NamedTuple):
    """The model's two outputs per node (see `SlowdownModel`), as arrays aligned with the tokens."""

    relative_p99: np.ndarray
    """The pod's P99 on the node over its P99 alone on the reference core (> 0; below 1 on a faster core)."""
    harm: np.ndarray
    """Sum over the node's latency-critical pods of ln(their P99 with the pod / without), >= 0."""


class Scorer:
    """Inference: tokens of one decision → predicted P99 and harm per node. Thread-safe (read-only weights).

    `threads` is set in every thread that predicts, not only in the one that loads: OpenMP keeps the count per
    thread, and a forward pass of only linear layers (no attention block) never applies torch's setting to a new
    thread. Without that, the scheduler's decision thread ran each pass on as many OpenMP threads as there are
    cores, whose spinning cost about 3 ms of CPU per decision on two cores (`benchmark/perf.py`'s burst)."""

    def __init__(self, checkpoint: Checkpoint, *, threads: int = 1) -> None:
        self.model = folded(checkpoint.model.eval())
        self.fill = self.model.fill
        self.summary = checkpoint.summary
        self.threads = max(1, threads)
        self._threads_set = threading.local()
        self._use_threads()
        self._forward = _traced(self.model)

    def _use_threads(self) -> None:
        """`threads` for torch in the calling thread, once per thread (the class docstring says why)."""
        if not getattr(self._threads_set, "done", False):
            torch.set_num_threads(self.threads)
            self._threads_set.done = True

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 1) -> "Scorer":
        return cls(load(path), threads=threads)

    def predict(self, tokens: np.ndarray) -> Predicted:
        """Both outputs for [N, F] finite float32 tokens; ValueError on bad input or output."""
        if tokens.ndim != 2 or tokens.shape[1] != self.model.config.features:
            raise ValueError(f"tokens of shape {tokens.shape}, expected [nodes, {self.model.config.features}]")
        if not np.isfinite(tokens).all():
            raise ValueError("tokens hold NaN or infinite values")
        self._use_threads()
        with torch.inference_mode():
            out = self._forward(torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32))[None])[0].numpy()
        if not np.isfinite(out).all():
            raise ValueError("the model returned NaN or infinite values")
        values = out.astype(float)
        return Predicted(np.exp(values[:, 0]), values[:, 1])


def _traced(model: Ensemble) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model traced and frozen by TorchScript: the same numbers without Python's per-op dispatch
    (about 0.55 instead of 0.65 ms per member's forward pass at 1,000 nodes on this machine's CPU). Every size of
    node set takes the same path (no data-dependent branches; the mask-free call is the one traced).
    TorchScript is deprecated in favour of `torch.compile`, which needs a C++ compiler at run time (the
    image has none); the pinned torch keeps it working, and a test checks the traced numbers."""
    example = torch.zeros(1, 2, model.config.features)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        forward = torch.jit.freeze(torch.jit.trace(model, (example,), check_trace=False))
        for _ in range(3):  # TorchScript profiles and optimises on the first calls (~60 ms): not on a pod's clock
            forward(example)
    return forward
