"""Two `scheduler.py run` replicas against the emulator: a leader paused past its lease binds nothing once
it resumes, and SIGTERM hands the lease over within the standby's retry period (issue 14, item 5)."""

import signal
import time
from pathlib import Path

from sim.apiserver import Emulator
from tests.e2e.cluster import bound, events, node, pod, wait_until
from tests.e2e.test_processes import bindings, start, stop, write_config

__all__ = ["bindings"]  # the fixture, shared with test_processes

LEASE = ("leases", "ai-llama-scheduler")
NAMESPACE = "kube-system"


def holder(emulator: Emulator) -> str | None:
    leases = [lease for lease in emulator.store.list("leases").items if lease["metadata"]["name"] == LEASE[1]]
    return leases[0]["spec"].get("holderIdentity") if leases else None


def scheduled_by(emulator: Emulator, instance: str, prefix: str) -> list[str]:
    return sorted(
        e["involvedObject"]["name"]
        for e in events(emulator, "Scheduled")
        if e.get("reportingInstance") == instance and e["involvedObject"]["name"].startswith(prefix)
    )


def test_a_paused_leader_binds_nothing_after_the_other_replica_took_the_lease(tmp_path: Path, bindings) -> None:
    election = {"enabled": True, "lease_duration": 4, "renew_deadline": 3, "retry_period": 1}
    config = write_config(tmp_path, leader_election=election)
    with Emulator(objects=[node(f"n{i}") for i in range(5)]) as emulator:
        counts = bindings(emulator)
        replicas = [start(emulator.url, config, tmp_path / f"replica{i}.log") for i in range(2)]
        try:
            wait_until(lambda: holder(emulator), timeout=30, what="a lease")
            for i in range(20):
                emulator.store.create("pods", pod(f"a{i:02d}"))
            wait_until(lambda: len(bound(emulator)) == 20, timeout=60, what="the first pods bound by the leader")
            first = holder(emulator)
            assert first is not None
            leader = next(p for p in replicas if first.endswith(f"_{p.pid}"))
            leader.send_signal(signal.SIGSTOP)
            wait_until(lambda: holder(emulator) not in (None, first), timeout=30, what="the standby taking the lease")
            time.sleep(election["renew_deadline"])  # paused well past its renew deadline, as a long GC or a frozen VM
            leader.send_signal(signal.SIGCONT)
            for i in range(60):
                emulator.store.create("pods", pod(f"b{i:02d}"))
            wait_until(lambda: len(bound(emulator)) == 80, timeout=60, what="every pod bound by the new leader")
            assert leader.wait(timeout=30) == 1, "a replica that lost its lease exits to restart as a follower"
        finally:
            for process in replicas:
                if process.poll() is None:
                    process.send_signal(signal.SIGCONT)
                stop(process)
        standby = replicas[1 - replicas.index(leader)]
        assert standby.returncode == 0, "the replica that took over ends cleanly on SIGTERM"
        log = (tmp_path / f"replica{replicas.index(leader)}.log").read_text()
        after_loss = log[log.index("; stopping") :]
        assert "leaderelection:" not in after_loss, "the campaign ends with the lease, not logging on into the exit"
        assert scheduled_by(emulator, first, "b") == []
        assert "before our binding" not in log, "the old leader sent a binding after the other took the lease"
        assert set(counts.values()) == {1} and len(counts) == 80


def test_sigterm_hands_the_lease_to_the_standby_within_its_retry_period(tmp_path: Path) -> None:
    """The default lease (15 s) and retry period (2 s): without a release the standby waits out the lease."""
    config = write_config(tmp_path, leader_election={"enabled": True})
    with Emulator(objects=[node(f"n{i}") for i in range(5)]) as emulator:
        replicas = [start(emulator.url, config, tmp_path / f"replica{i}.log") for i in range(2)]
        try:
            wait_until(lambda: holder(emulator), timeout=30, what="a lease")
            for i in range(10):
                emulator.store.create("pods", pod(f"a{i:02d}"))
            wait_until(lambda: len(bound(emulator)) == 10, timeout=60, what="the first pods bound by the leader")
            first = holder(emulator)
            assert first is not None
            leader = next(p for p in replicas if first.endswith(f"_{p.pid}"))
            began = time.monotonic()
            leader.send_signal(signal.SIGTERM)
            for i in range(10):
                emulator.store.create("pods", pod(f"c{i:02d}"))
            wait_until(lambda: any(name.startswith("c") for name in bound(emulator)), timeout=30, what="a handover")
            handover = time.monotonic() - began
            wait_until(lambda: len(bound(emulator)) == 20, timeout=30, what="every pod bound by the standby")
            assert leader.wait(timeout=30) == 0
            second = holder(emulator)
        finally:
            for process in replicas:
                stop(process)
    print(f"\nSIGTERM to the first pod bound by the standby: {handover:.2f}s")
    assert [process.returncode for process in replicas] == [0, 0], "both replicas end cleanly on SIGTERM"
    assert second not in (None, first)
    assert handover < 5.0
