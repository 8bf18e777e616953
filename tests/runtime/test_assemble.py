"""The composition root: when the LLM tier joins the chain, and what forcing it does."""

import pytest

from cluster.config import Settings
from cluster.snapshot import Snapshot
from llm.tier import LLMTier
from runtime.assemble import TierUnavailableError, build_decider
from scoring.transformer import model_path
from scoring.transformer.evidence import load_verdict
from telemetry.stats import Stats
from tests.builders import make_node, make_pod
from tests.llm.conftest import TOKEN, llm_settings

ENDPOINT = "http://127.0.0.1:9"
SHIPPED_LEADS = ["transformer"] if load_verdict(model_path(Settings().scoring.model_path)).lead else []
"""The shipped weights lead the heuristic only when their shipped evidence says so (`scoring.transformer.evidence`)."""


@pytest.mark.parametrize(
    ("settings", "tier", "tiers", "fallback"),
    [
        pytest.param(
            Settings(), "auto", SHIPPED_LEADS, True, id="auto without a token or endpoint: the local tiers only"
        ),
        pytest.param(llm_settings(None, token=TOKEN), "auto", ["llm"], True, id="auto with a token: router first"),
        pytest.param(llm_settings(ENDPOINT), "auto", ["llm"], True, id="auto with an endpoint and no token"),
        pytest.param(
            llm_settings(ENDPOINT, llm={"enabled": False}), "auto", [], True, id="auto with the LLM switched off"
        ),
        pytest.param(llm_settings(ENDPOINT), "llm", ["llm"], False, id="forced: the LLM alone, no fallback"),
        pytest.param(llm_settings(ENDPOINT), "heuristic", [], False, id="forced heuristic ignores the LLM"),
    ],
)
def test_the_chain(settings: Settings, tier: str, tiers: list[str], fallback: bool) -> None:
    decider = build_decider(settings, tier=tier)  # type: ignore[arg-type]
    assert [t.tier.value for t in decider.tiers] == tiers
    assert decider.fallback is fallback


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param(Settings(), "needs HUGGINGFACE_TOKEN", id="nothing to reach"),
        pytest.param(llm_settings(ENDPOINT, llm={"enabled": False}), "llm.enabled: false", id="switched off"),
        pytest.param(llm_settings(None, token="sk-other"), "needs a Hugging Face token", id="router without hf_ token"),
    ],
)
def test_forcing_an_unavailable_llm_is_refused(settings: Settings, message: str) -> None:
    with pytest.raises(TierUnavailableError, match=message) as caught:
        build_decider(settings, tier="llm")
    assert "sk-other" not in str(caught.value)


def test_stats_and_settings_reach_the_tier() -> None:
    stats = Stats()
    settings = llm_settings(
        ENDPOINT,
        token=TOKEN,
        llm={"max_concurrency": 3, "max_candidates": 7, "prompt_token_budget": 900},
        cache={"enabled": False},
        circuit_breaker={"enabled": False},
    )
    (tier,) = build_decider(settings, stats=stats).tiers
    assert isinstance(tier, LLMTier)
    assert tier.stats is stats
    assert (tier.max_concurrency, tier.max_candidates, tier.token_budget) == (3, 7, 900)
    assert tier.cache is None and tier.breaker is None
    assert TOKEN not in repr(tier)


@pytest.mark.parametrize(
    ("weights", "warning"),
    [
        pytest.param(None, None, id="the default weights: no warning"),
        pytest.param(
            {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1, "NodeResourcesBalancedAllocation": 1,
             "InterferenceAware": 5},
            "scoring.weights lists no weight for ImageLocality, InterPodAffinity, PodTopologySpread: they do not score",
            id="an older weights map: the plugins it leaves out are named",
        ),
    ],
)  # fmt: skip
def test_a_weights_map_that_leaves_default_plugins_out_says_which(
    caplog: pytest.LogCaptureFixture, weights: dict[str, int] | None, warning: str | None
) -> None:
    settings = Settings() if weights is None else Settings.model_validate({"scoring": {"weights": weights}})
    with caplog.at_level("WARNING", logger="scheduler"):
        build_decider(settings, tier="heuristic")
    found = [r.getMessage() for r in caplog.records if "scoring.weights" in r.getMessage()]
    assert found == ([] if warning is None else [f"{warning} (a weights map replaces the whole default)"])


def test_the_chain_scores_the_share_of_nodes_the_settings_ask_for_and_decide_every_node() -> None:
    snapshot = Snapshot.build([make_node(f"n{i:03d}") for i in range(250)], [])
    pod = make_pod("p", cpu="1")
    assert len(build_decider(Settings(), tier="heuristic").decide(pod, snapshot).scores) == 120
    every = Settings(scoring={"percentage_of_nodes_to_score": 100})
    assert len(build_decider(every, tier="heuristic").decide(pod, snapshot).scores) == 250
    assert len(build_decider(Settings(), tier="heuristic", every_node=True).decide(pod, snapshot).scores) == 250
