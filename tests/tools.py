"""The command-line tools some tests run (kubectl, prometheus), and how such a test says one is missing.

A test that needs a tool skips with `missing(...)` as its reason, so pytest's summary (`-ra`) names the tool and
what it is needed for. Under CI (`CI=true`) tests/conftest.py turns those skips into failures: CI must run the
whole suite, and `.ci/run` installs the tools first.
"""

import shutil

PREREQUISITES = "see the README's Prerequisites"
"""Ends every missing-tool reason: how tests/conftest.py tells such a skip from any other."""


def which(tool: str) -> str | None:
    """The tool's path on PATH, or None."""
    return shutil.which(tool)


def missing(tool: str, needed_for: str) -> str:
    """The skip reason for a test that cannot run without `tool`."""
    return f"{tool} is not installed, needed for {needed_for}; {PREREQUISITES}"
