"""Pressure stall information: `/proc/pressure/{cpu,memory,io}` `some avg10` as the psi_* metrics.

The kernel already averages over 10 s; the agent samples that average each second like any gauge.
A kernel without PSI (before 4.20, or built without CONFIG_PSI) has no /proc/pressure; one booted with
`psi=0` has the files but refuses reads (EOPNOTSUPP). Either way the metrics are absent, never zero.
"""

import os

from agent.collector import Availability, describe_os_error, read_text

RESOURCES = {"cpu": "psi_cpu_some", "memory": "psi_memory_some", "io": "psi_io_some"}


class PsiFormatError(ValueError):
    """A pressure file without a well-formed `some ... avg10=` line."""


def parse_some_avg10(text: str) -> float:
    """The `avg10` of the `some` line, in percent."""
    for line in text.splitlines():
        kind, _, fields = line.partition(" ")
        if kind != "some":
            continue
        for item in fields.split():
            key, _, value = item.partition("=")
            if key == "avg10":
                try:
                    return float(value)
                except ValueError as exc:
                    raise PsiFormatError(f"avg10 is not a number: {value!r}") from exc
    raise PsiFormatError("no 'some ... avg10=' line")


class PsiCollector:
    """Reads the three pressure files under `proc_root`."""

    name = "psi"

    def __init__(self, proc_root: str = "/proc") -> None:
        self._paths = {metric: os.path.join(proc_root, "pressure", res) for res, metric in RESOURCES.items()}
        self._readable: dict[str, str] = {}

    def open(self) -> Availability:
        missing: dict[str, str] = {}
        pressure_dir = os.path.dirname(next(iter(self._paths.values())))
        for metric, path in self._paths.items():
            if not os.path.isdir(pressure_dir):
                missing[metric] = f"kernel has no PSI: {pressure_dir} missing (needs Linux 4.20+ with CONFIG_PSI)"
                continue
            try:
                parse_some_avg10(read_text(path))
            except OSError as exc:
                missing[metric] = describe_os_error(exc, path)
            except PsiFormatError as exc:
                missing[metric] = f"{path}: {exc}"
            else:
                self._readable[metric] = path
        return Availability(self.name, tuple(self._readable), missing)

    def sample(self, now: float) -> dict[str, float]:
        values: dict[str, float] = {}
        for metric, path in self._readable.items():
            try:
                values[metric] = parse_some_avg10(read_text(path))
            except (OSError, PsiFormatError):
                continue  # unknown for this interval only; the file was readable at start
        return values

    def close(self) -> None:
        return None
