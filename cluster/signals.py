"""Stop signals for the long-running commands: `scheduler.py run` and `demo`, the emulator, the node agent.

SIGTERM and Ctrl-C call the command's stop function on a thread of their own, never inside a Python signal
handler, for two reasons:
- the kernel may hand a process's signal to any of its threads, and Python runs the handler only when the
  main thread next executes, which a main thread blocked in an untimed wait never does;
- a handler runs on the main thread between two bytecodes, so one that sets a `threading.Event` can
  interrupt the main thread inside that Event's own lock (while the main thread waits on it) and deadlock.
So the Python-level handlers do nothing: the interpreter's C handler writes each signal's number to a pipe
(`signal.set_wakeup_fd`) on whichever thread received it, and the daemon thread `signals` reads the pipe
and calls the stop function. SIGUSR1 prints every thread's stack to stderr and the process goes on
(`faulthandler`: file, line and function names only, never values, so no secret reaches it).
"""

import faulthandler
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signals(stop: Callable[[], None]) -> bool:
    """Call `stop` on the `signals` thread at every SIGTERM or SIGINT, and dump the stacks at SIGUSR1; False (and
    nothing installed) outside the main thread, where Python cannot install signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        return False
    read, write = os.pipe()
    os.set_blocking(write, False)
    for sig in STOP_SIGNALS:
        signal.signal(sig, _carried_by_the_pipe)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    numbers = {int(sig) for sig in STOP_SIGNALS}

    def relay() -> None:
        while True:
            if numbers.intersection(os.read(read, 64)):
                stop()

    threading.Thread(target=relay, name="signals", daemon=True).start()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return True


def _carried_by_the_pipe(signum: int, frame: FrameType | None) -> None:
    """Nothing here: the wakeup pipe carries the signal to the `signals` thread."""
