"""The network and its checkpoint: padding and order do not leak, bad files are refused clearly, training repeats."""

import ctypes
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cluster.needs import WorkloadClass
from scoring.transformer import ModelUnavailableError, features, model
from scoring.transformer.features import FEATURE_NAMES, NodeInputs, PodInputs, Scale
from scoring.transformer.model import ModelConfig, Scorer, SlowdownModel
from training import fit as training

F = len(FEATURE_NAMES)
TINY = ModelConfig(width=8, heads=2, inducing=2, layers=1, hidden=8)


def network(seed: int = 0) -> SlowdownModel:
    torch.manual_seed(seed)
    return SlowdownModel(TINY).eval()


def test_padding_does_not_change_the_real_nodes_predictions() -> None:
    net = network()
    x = torch.randn(1, 5, F)
    padded = torch.cat([x, torch.randn(1, 3, F) * 100], dim=1)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    with torch.inference_mode():
        assert torch.allclose(net(x)[0], net(padded, mask)[0, :5], atol=1e-5)


def test_the_order_of_the_candidates_does_not_matter() -> None:
    net = network()
    x = torch.randn(1, 6, F)
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.inference_mode():
        assert torch.allclose(net(x)[0][order], net(x[:, order])[0], atol=1e-5)


def test_predictions_are_a_positive_p99_factor_and_a_non_negative_harm(tmp_path: Path) -> None:
    model.save(tmp_path / "m.pt", network(), {})
    scorer = Scorer.load(tmp_path / "m.pt")
    predicted = scorer.predict(np.random.default_rng(0).normal(size=(4, F)).astype(np.float32))
    assert predicted.relative_p99.shape == predicted.harm.shape == (4,)
    assert (predicted.relative_p99 > 0).all() and (predicted.harm >= 0).all()


def _openmp_threads() -> int | None:
    """The calling thread's OpenMP thread count, asked of the OpenMP runtime torch loaded (asking torch would
    apply its own setting to the thread first); None where no such runtime is found."""
    maps = Path("/proc/self/maps")
    found = [line.split()[-1] for line in maps.read_text().splitlines() if "libgomp" in line] if maps.exists() else []
    return int(ctypes.CDLL(found[0]).omp_get_max_threads()) if found else None


def test_a_thread_that_predicts_runs_the_configured_number_of_threads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model.save(tmp_path / "m.pt", SlowdownModel(replace(TINY, layers=0)).eval(), {})  # as shipped: no block
    wanted = (os.cpu_count() or 1) + 1  # no thread's default: only the setting gives it
    before = torch.get_num_threads()
    loaded: list[Scorer] = []
    seen: list[int | None] = []
    ready = threading.Event()

    def decide() -> None:  # running before the weights load, as the scheduler's decision thread is
        ready.wait()
        loaded[0].predict(np.zeros((3, F), dtype=np.float32))
        seen.append(_openmp_threads())

    def load() -> None:  # in a thread of its own, as `scoring.transformer.loading` loads
        try:
            loaded.append(Scorer.load(tmp_path / "m.pt", threads=wanted))
        finally:
            ready.set()

    threads = [threading.Thread(target=decide), threading.Thread(target=load)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        torch.set_num_threads(before)
    if seen == [None]:
        pytest.skip("torch was built without GNU OpenMP here")
    assert seen == [wanted]


def test_a_checkpoint_round_trips(tmp_path: Path) -> None:
    net = network(3)
    model.save(tmp_path / "m.pt", net, {"data": {"sim_decisions": 5}})
    loaded = model.load(tmp_path / "m.pt")
    x = torch.randn(1, 4, F)
    with torch.inference_mode():
        assert torch.equal(net(x), loaded.model(x))
    assert loaded.summary == {"data": {"sim_decisions": 5}}
    assert loaded.model.config == TINY


def test_an_ensemble_predicts_its_members_mean_log_p99_and_mean_harm(tmp_path: Path) -> None:
    members = [network(seed) for seed in (1, 2, 3)]
    model.save(tmp_path / "m.pt", model.Ensemble(members), {})
    scorer = Scorer.load(tmp_path / "m.pt")
    tokens = np.random.default_rng(4).normal(size=(5, F)).astype(np.float32)
    with torch.inference_mode():
        each = np.stack([m(torch.from_numpy(tokens)[None])[0].numpy() for m in members])
    predicted = scorer.predict(tokens)
    assert len(scorer.model.members) == 3
    assert np.allclose(np.log(predicted.relative_p99), each[:, :, 0].mean(0), atol=1e-5)
    assert np.allclose(predicted.harm, each[:, :, 1].mean(0), atol=1e-5)
    assert not np.allclose(each[0], each[1], atol=1e-3)


def test_an_ensembles_fill_is_its_members_mean_training_mean() -> None:
    scales = [Scale(np.full(F, v, np.float32), np.ones(F, np.float32)) for v in (1.0, 2.0, 6.0)]
    ensemble = model.Ensemble([SlowdownModel(TINY, scale) for scale in scales])
    assert np.allclose(ensemble.fill, 3.0)


def test_members_of_different_configs_do_not_make_an_ensemble() -> None:
    with pytest.raises(ValueError, match="configs differ"):
        model.Ensemble([SlowdownModel(TINY), SlowdownModel(ModelConfig(width=8, heads=2, inducing=2, layers=0))])


def _corrupt(path: Path) -> None:
    path.write_bytes(b"\x00not a checkpoint" * 10)


def _truncated(path: Path) -> None:
    model.save(path, network(), {})
    path.write_bytes(path.read_bytes()[:500])


def _other_features(path: Path) -> None:
    model.save(path, network(), {})
    payload = torch.load(path, weights_only=True)
    payload["feature_version"] = -1
    torch.save(payload, path)


def _single_output(path: Path) -> None:
    """Weights of the previous format: one output, the pod's own slowdown."""
    model.save(path, network(), {})
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 1
    payload["state_dict"] = {k.removeprefix("members.0."): v for k, v in payload["state_dict"].items()}
    payload["state_dict"]["head.weight"] = payload["state_dict"]["head.weight"][:1]
    payload["state_dict"]["head.bias"] = payload["state_dict"]["head.bias"][:1]
    del payload["members"]
    torch.save(payload, path)


def _one_model(path: Path) -> None:
    """Weights of format 2: one model, no ensemble."""
    model.save(path, network(), {})
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 2
    payload["state_dict"] = {k.removeprefix("members.0."): v for k, v in payload["state_dict"].items()}
    del payload["members"]
    torch.save(payload, path)


def _members(count: int) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        model.save(path, network(), {})
        payload = torch.load(path, weights_only=True)
        payload["members"] = count
        torch.save(payload, path)

    return damage


def _nan_weights(path: Path) -> None:
    net = network()
    with torch.no_grad():
        net.embed.weight.fill_(float("nan"))
    model.save(path, net, {})


def _wrong_shapes(path: Path) -> None:
    model.save(path, network(), {})
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["members.0.embed.weight"] = torch.zeros(3, 3)
    torch.save(payload, path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda path: None, "no such file", id="missing file"),
        pytest.param(_corrupt, "unreadable", id="random bytes"),
        pytest.param(_truncated, "unreadable", id="truncated archive"),
        pytest.param(_other_features, "features -1", id="weights of another feature version"),
        pytest.param(
            _single_output, "format 1 .* harm to neighbours", id="old weights predicting the own slowdown only"
        ),
        pytest.param(_one_model, "format 2 .* ensemble", id="weights of one model, before ensembles"),
        pytest.param(_members(2), "corrupt (?s:.)*Missing key", id="more members named than stored"),
        pytest.param(_members(0), "corrupt .*0 members", id="no member"),
        pytest.param(_nan_weights, "non-finite", id="NaN weights"),
        pytest.param(_wrong_shapes, "corrupt", id="tensors of the wrong shape"),
    ],
)
def test_unusable_weights_are_refused_with_what_to_do(tmp_path: Path, damage, message: str) -> None:
    path = tmp_path / "model.pt"
    damage(path)
    with pytest.raises(ModelUnavailableError, match=message) as caught:
        model.load(path)
    assert "training.train" in str(caught.value) or "retrain" in str(caught.value)


def test_non_finite_tokens_are_rejected(tmp_path: Path) -> None:
    model.save(tmp_path / "m.pt", network(), {})
    scorer = Scorer.load(tmp_path / "m.pt")
    tokens = np.zeros((2, F), np.float32)
    tokens[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        scorer.predict(tokens)


def _examples(count: int, seed: int) -> list[training.Example]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(2, 6))
        nodes = NodeInputs(
            telemetry=rng.random((n, features.TELEMETRY_WIDTH)).astype(np.float32),
            pressure=rng.random((n, 4)).astype(np.float32),
            allocatable=np.tile([8000.0, 2.0**35], (n, 1)),
            requested=rng.random((n, 2)) * [4000.0, 2.0**33],
            pods=rng.integers(0, 20, n),
            max_pods=np.full(n, 110),
            declared=rng.integers(0, 2, (n, 2, 4)),
        )
        pod = PodInputs(WorkloadClass.LATENCY_CRITICAL, (True, True, True, False), (False,) * 4, 500.0, 2.0**29)
        target = 2.0 * nodes.pressure[:, 0]
        out.append(training.Example(nodes, pod, target, -target))
    return out


def test_training_is_deterministic_for_a_seed() -> None:
    prepared = training.prepare(_examples(24, seed=1))
    settings = training.Settings(seed=3, epochs=2, batch_size=8, config=TINY)
    first, losses = training.fit(prepared, settings, progress=False)
    second, again = training.fit(prepared, settings, progress=False)
    assert losses == again
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    other, _ = training.fit(prepared, training.Settings(seed=4, epochs=2, batch_size=8, config=TINY), progress=False)
    assert not torch.equal(first.embed.weight, other.embed.weight)


def test_training_learns_the_ranking_of_a_simple_rule() -> None:
    prepared = training.prepare(_examples(160, seed=2))
    settings = training.Settings(seed=1, epochs=30, batch_size=16, learning_rate=1e-2, config=TINY)
    net, losses = training.fit(prepared, settings, progress=False)
    assert losses[-1] < losses[0]
    test = _examples(20, seed=9)
    hits = 0
    for example in test:
        tokens = np.where(np.isnan(t := features.tokens(example.nodes, example.pod)), prepared.scale.mean, t)
        with torch.inference_mode():
            predicted = net(torch.from_numpy(tokens.astype(np.float32))[None])[0, :, 0].numpy()
        hits += int(np.argmin(predicted) == np.argmin(example.target))
    assert hits >= 14  # a random pick among 2-5 nodes gets about 7


def test_the_scale_is_fitted_on_known_values_only() -> None:
    raw = np.array([[1.0, np.nan], [3.0, np.nan]])
    scale = Scale.fit(raw)
    assert scale.mean.tolist() == [2.0, 0.0]
    assert scale.std.tolist() == [1.0, 1.0]


def test_folding_the_scale_into_the_embedding_changes_nothing_but_speed(tmp_path: Path) -> None:
    scale = Scale(np.linspace(-1, 1, F).astype(np.float32), np.linspace(0.5, 2, F).astype(np.float32))
    net = SlowdownModel(TINY, scale)
    model.save(tmp_path / "m.pt", net.eval(), {})
    scorer = Scorer.load(tmp_path / "m.pt")
    tokens = np.random.default_rng(1).normal(size=(7, F)).astype(np.float32)
    with torch.inference_mode():
        plain = net(torch.from_numpy(tokens)[None])[0].numpy()
    assert scorer.model.folded
    predicted = scorer.predict(tokens)
    assert np.allclose(predicted.relative_p99, np.exp(plain[:, 0]), rtol=1e-5)
    assert np.allclose(predicted.harm, plain[:, 1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="folded"):
        model.save(tmp_path / "again.pt", scorer.model, {})


@pytest.mark.parametrize("nodes", [1, 3, 250, 1000])
def test_the_traced_forward_pass_gives_the_eager_models_numbers_for_any_number_of_nodes(nodes: int) -> None:
    scorer = Scorer.load(Path(__file__).resolve().parents[3] / "scoring" / "transformer" / "model.pt")
    tokens = torch.from_numpy(np.random.default_rng(nodes).normal(size=(1, nodes, scorer.model.config.features)))
    with torch.inference_mode():
        eager = scorer.model(tokens.float())
        traced = scorer._forward(tokens.float())
    assert traced.shape == (1, nodes, 2)
    assert torch.allclose(traced, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("nodes", [1, 8, 9, 300])
def test_inference_takes_the_same_softmax_as_training_whatever_the_number_of_keys(nodes: int) -> None:
    """Nodes attending over the summaries take the softmax along the other axis at inference (faster on CPU);
    the numbers are training's up to float rounding, with fewer, as many or more nodes than summaries."""
    torch.manual_seed(nodes)
    ensemble = model.Ensemble([SlowdownModel(ModelConfig(layers=1)) for _ in range(3)])  # the ablation's block
    tokens = torch.from_numpy(np.random.default_rng(nodes).normal(size=(2, nodes, ensemble.config.features))).float()
    mask = torch.ones(2, nodes, dtype=torch.bool)
    mask[1, nodes // 2 + 1 :] = False
    with torch.inference_mode():
        inferred = ensemble.eval()(tokens, mask)
        trained = ensemble.train()(tokens, mask)
    assert [m.blocks[0].spread.few_keys for m in ensemble.models] == [True] * 3
    assert not ensemble.models[0].blocks[0].gather.few_keys
    assert torch.allclose(inferred, trained, rtol=1e-5, atol=1e-6)
