"""Where a process spends its CPU: py-spy samples in raw (collapsed-stack) form, summarised per function.

`Recorder(pid, path)` runs `py-spy record --gil --format raw` on a running process until it exits or
`stop` is called; `hot_spots(path)` reads the collapsed stacks (`frame;frame;... count`, root first) and
returns each function's share of the samples as the innermost frame (*self*) and anywhere on the stack
(*total*). With `--gil` only the thread holding the interpreter lock is sampled, so the shares are of
the Python CPU time that competes for it.
"""

import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


class ProfilerError(RuntimeError):
    """py-spy is missing or could not attach; the message says which."""


class Recorder:
    def __init__(self, pid: int, output: Path, *, rate: int = 200) -> None:
        binary = shutil.which("py-spy")
        if binary is None:
            raise ProfilerError("py-spy is not installed (pip install py-spy) or not on PATH")
        self.output = output
        self.process = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--gil", "--format", "raw", "--rate", str(rate), "-o", str(output)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self, timeout: float = 60.0) -> str:
        """Stop sampling (SIGINT makes py-spy write its file) and return its own output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out or ""


def _function(frame: str) -> str:
    """`name (file)` without the line, with the path from the repository root when it is ours."""
    found = FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    file = found.group("file")
    for marker in ("/cluster/", "/scoring/", "/telemetry/", "/llm/", "/sim/", "/benchmark/", "site-packages/"):
        if marker in file:
            file = (marker.strip("/") + "/" if marker != "site-packages/" else "") + file.split(marker, 1)[1]
            break
    return f"{found.group('function')} ({file})"


def hot_spots(raw: Path, *, top: int = 40, within: str | None = None) -> dict[str, Any]:
    """The functions with the largest self and total shares of the samples (of those whose stack holds the
    function `within`, e.g. `decide (scoring/decide.py)`, when given)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_function(f) for f in stack.split(";") if f]
        if within is not None and within not in frames:
            continue
        samples += n
        if frames:
            own[frames[-1]] += n
        for function in set(frames):
            anywhere[function] += n
    if not samples:
        return {"samples": 0, "self": [], "total": []}

    def ranked(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": f, "share": round(c / samples, 4)} for f, c in counter.most_common(top)]

    return {"samples": samples, "within": within, "self": ranked(own), "total": ranked(anywhere)}
