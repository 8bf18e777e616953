"""`wait_for`: the main thread's wait for a stop signal ends even when the kernel hands the signal to another thread."""

import signal
import threading

import pytest

from cluster.clock import SIGNAL_POLL_SECONDS, wait_for


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_a_signal_another_thread_receives_still_ends_the_main_threads_wait() -> None:
    stop, release, forced = threading.Event(), threading.Event(), threading.Event()
    previous = signal.signal(signal.SIGUSR2, lambda *_: stop.set())
    receiver = threading.Thread(target=release.wait, args=(30,), daemon=True)
    receiver.start()

    def deliver() -> None:
        assert receiver.ident is not None
        signal.pthread_kill(receiver.ident, signal.SIGUSR2)  # the C handler runs there; Python's waits for main
        if not stop.wait(20 * SIGNAL_POLL_SECONDS):
            forced.set()  # the handler never ran (an untimed wait is never woken): end the wait, and fail below
            stop.set()

    sender = threading.Timer(0.2, deliver)
    try:
        sender.start()
        wait_for(stop)
    finally:
        sender.join()
        release.set()
        signal.signal(signal.SIGUSR2, previous)
    assert not forced.is_set(), "the signal's handler did not run while the main thread waited"
