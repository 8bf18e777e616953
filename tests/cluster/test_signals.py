"""`on_stop_signals`: a stop signal reaches the stop function whichever thread the kernel hands it to, and the
stop function never runs inside the main thread (each case in a process of its own)."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = """
import os, signal, threading, time
from cluster.signals import on_stop_signals
threading.Timer(20, lambda: os._exit(3)).start()  # a hang exits 3
stop = threading.Event()
"""


def run(body: str) -> subprocess.CompletedProcess:
    script = PRELUDE + textwrap.dedent(body) + "\nos._exit(0)\n"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_signal_another_thread_receives_still_stops_a_main_thread_in_an_untimed_wait() -> None:
    result = run(
        """
        assert on_stop_signals(stop.set)
        sleeper = threading.Thread(target=time.sleep, args=(30,), daemon=True)
        sleeper.start()
        threading.Timer(0.2, signal.pthread_kill, (sleeper.ident, signal.SIGTERM)).start()
        stop.wait()
        """
    )
    assert result.returncode == 0, result.stderr


def test_the_stop_function_never_runs_on_the_main_thread() -> None:
    """A handler that set the Event on the main thread could interrupt the main thread's own `stop.wait` inside
    the Event's lock and deadlock on it (a scheduler under load once hung on SIGTERM that way)."""
    result = run(
        """
        callers = []
        assert on_stop_signals(lambda: (callers.append(threading.current_thread().name), stop.set()))
        for sig in (signal.SIGTERM, signal.SIGINT):
            stop.clear()
            os.kill(os.getpid(), sig)
            while not stop.wait(0.01):
                pass
        assert callers == ["signals", "signals"], callers
        """
    )
    assert result.returncode == 0, result.stderr


def test_sigusr1_prints_the_stacks_and_the_process_goes_on() -> None:
    result = run(
        """
        assert on_stop_signals(stop.set)
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.2)
        print("still here")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "Current thread" in result.stderr and "still here" in result.stdout
