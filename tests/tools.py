"""The command-line tools some tests run (kubectl, prometheus), and how such a test says one is missing.

A test that needs a tool skips with `missing(...)` as its reason, so pytest's summary (`-ra`) names the tool and
what it is needed for. Under CI (`CI=true`) tests/conftest.py turns those skips into failures: CI must run the
whole suite, and `.ci/run` installs the tools first.
"""

import shutil
import socket
import subprocess

PREREQUISITES = "see the README's Prerequisites"
"""Ends every missing-tool reason: how tests/conftest.py tells such a skip from any other."""


def which(tool: str) -> str | None:
    """The tool's path on PATH, or None."""
    return shutil.which(tool)


def missing(tool: str, needed_for: str) -> str:
    """The skip reason for a test that cannot run without `tool`."""
    return f"{tool} is not installed, needed for {needed_for}; {PREREQUISITES}"


def free_port() -> int:
    """A TCP port free on loopback now, for a server the test starts as a separate process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a server process the test started: SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
