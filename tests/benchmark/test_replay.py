"""A replay is a function of the seed: the same arrivals meet the same telemetry and land on the same nodes."""

import functools

from benchmark import policies, replay
from cluster import config
from sim import scenario


def test_replaying_a_scenario_twice_places_every_pod_the_same_way() -> None:
    seed = scenario.load("seed-001")
    settings = config.Settings()
    build = functools.partial(policies.build, "heuristic", settings)
    first, _ = replay.replay(seed, settings, build, seed=seed.seed)
    again, _ = replay.replay(seed, settings, build, seed=seed.seed)
    assert first.order == again.order == [f"default/{a.pod['metadata']['name']}" for a in seed.arrivals]
    assert first.bound == again.bound
    assert first.publications == again.publications > len(seed.nodes)


def test_agents_publish_each_cohort_once_per_period_in_time_order() -> None:
    seed = scenario.load("seed-001")
    clock = replay.ReplayClock(seed.start)
    world = replay.SimCluster(seed, clock=clock)
    agents = replay.Agents(world, clock, period=30.0, seed=1)
    published = agents.advance(seed.start, 65.0)
    times = [at - seed.start for at, _ in published]
    assert times == sorted(times) == [6.0, 12.0, 18.0, 24.0, 30.0, 36.0, 42.0, 48.0, 54.0, 60.0][: len(times)]
    assert sorted(n for _, names in published[:5] for n in names) == sorted(world.node_names())
    assert agents.advance(seed.start, 65.0) == []
