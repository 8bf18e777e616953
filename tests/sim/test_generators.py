"""Generated clusters: the share of noisy nodes that run their antagonists alone, without services, and the size of
the latency-critical services."""

from dataclasses import replace

import numpy as np
import pytest

from sim import dataset, generators, workloads


def shared_noisy_nodes(family: generators.Family, seeds: range) -> int:
    """Over the seeds' clusters, how many nodes run an antagonist beside a service."""
    shared = 0
    for seed in seeds:
        plan = generators.plan(np.random.default_rng(seed), family, arrivals=1)
        stressor = np.array([str(p) in workloads.STRESSORS for p in plan.pod_profile], dtype=bool)
        shared += len(set(plan.pod_node[stressor].tolist()) & set(plan.pod_node[~stressor].tolist()))
    return shared


@pytest.mark.parametrize("name", ["kubeattention", "datacenter"])
def test_lone_noisy_nodes_run_their_antagonists_without_services(name: str) -> None:
    family = generators.FAMILIES[name]
    assert shared_noisy_nodes(family, range(30)) > 0
    assert shared_noisy_nodes(replace(family, lone=1.0), range(30)) == 0


def test_the_mixed_generator_takes_a_lone_share_and_refuses_one_outside_0_to_1() -> None:
    alone = generators.mixed(np.random.default_rng(3), nodes=20, arrivals=2, family="datacenter", lone=1.0)
    kinds: dict[str, set[bool]] = {}
    for pod in alone["pods"]:
        kinds.setdefault(pod["node"], set()).add("args" in pod)  # only a stressor's entry carries its arguments
    assert {True} in kinds.values() and {False} in kinds.values()
    assert all(len(k) == 1 for k in kinds.values())
    with pytest.raises(ValueError, match=r"lone is a share of the noisy nodes, from 0 to 1, got 1\.5"):
        generators.mixed(np.random.default_rng(3), nodes=4, arrivals=1, lone=1.5)


@pytest.mark.parametrize(("share", "hosts"), [(0.0, 0), (1.0, 20)])
def test_the_mixed_generator_takes_the_share_of_nodes_hosting_antagonists(share: float, hosts: int) -> None:
    """kubemarla puts antagonists on 70 % of its nodes; the override puts them on none or on every one."""
    cluster = generators.mixed(np.random.default_rng(3), nodes=20, arrivals=2, family="kubemarla", noisy=share)
    stressed = {pod["node"] for pod in cluster["pods"] if "args" in pod}
    assert len(stressed) == hosts
    with pytest.raises(ValueError, match=r"noisy is a share of the nodes, from 0 to 1, got -0\.1"):
        generators.mixed(np.random.default_rng(3), nodes=4, arrivals=1, noisy=-0.1)


def critical_units(family: generators.Family, seeds: range) -> list[float]:
    """The units of work of every latency-critical service pod over the seeds' clusters."""
    units: list[float] = []
    for seed in seeds:
        plan = generators.plan(np.random.default_rng(seed), family, arrivals=1)
        critical = [workloads.PROFILES[str(p)].latency_critical for p in plan.pod_profile]
        units += [float(u) for u, c in zip(plan.pod_units, critical, strict=True) if c]
    return units


def test_training_draws_latency_critical_neighbours_as_small_replicas_as_well_as_at_every_size() -> None:
    # An http-echo asking 4 cores runs 40 of its replicas' work: drawn only at the services' sizes, every node
    # carrying latency-critical pods was busy, and the model read a quiet node of small replicas as a harmful one.
    family = dataset.family_of("datacenter", randomise=dataset.Randomisation())
    assert family.critical_replicas == dataset.Randomisation.critical_replicas == 0.5
    units = critical_units(family, range(40))
    replicas = sum(u == 1.0 for u in units) / len(units)
    assert len(units) > 100 and 0.5 < replicas < 0.75  # half by the draw, the rest of SIZES hit the reference too
    assert max(units) >= 8
    assert set(critical_units(replace(family, critical_replicas=1.0), range(40))) == {1.0}
