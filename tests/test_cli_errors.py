"""Every user error of `scheduler.py` is one line naming the file, key or value, and exit status 2.

Each case runs the real CLI as a user does (`python scheduler.py ...` in a directory of their own, with
only the files and environment the case gives), so a traceback, a second line or a blamed wrong source
fails it.
"""

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.apiserver import Emulator
from tests.e2e.cluster import node

ROOT = Path(__file__).resolve().parents[1]
SCHEDULER = ROOT / "scheduler.py"
SNAPSHOT = ROOT / "examples" / "cluster-6-workers.json"
PODS = ROOT / "ai-test-pods.yaml"
MAX_LINE = 500
ALIAS_BOMB = (  # 288 bytes that a plain yaml.safe_load expands to 9^9 strings
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
)
HUGE_NODE = "kind: List\nitems:\n- {kind: Node, metadata: {name: n}, status: {allocatable: {memory: 1e30}}}\n"
HUGE_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: huge}\n"
    "spec:\n  containers:\n  - name: c\n    resources: {requests: {memory: 1e30}}\n"
)


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCHEDULER), *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "PYTHONPATH": str(ROOT), **(env or {})},
    )


def assert_one_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one bounded line on stderr holding every fragment."""
    stderr = result.stderr.decode("utf-8", "replace")
    lines = stderr.splitlines()
    assert result.returncode == 2, stderr[-2000:]
    assert result.stdout == b""
    assert len(lines) == 1, stderr[-2000:]
    assert len(lines[0]) <= MAX_LINE
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Emulator]:
    with Emulator(objects=[node("n1")]) as emulator:
        yield emulator


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


DECIDE = ("decide", "--snapshot", str(SNAPSHOT), "--pod", str(PODS), "--tier", "heuristic")


@pytest.mark.parametrize(
    ("args", "files", "env", "fragments"),
    [
        pytest.param(
            ("run", "--kubeconfig", "/nonexistent/kubeconfig"),
            {},
            {},
            ("/nonexistent/kubeconfig", "Invalid kube-config file"),
            id="a missing kubeconfig is named by its path",
        ),
        pytest.param(
            ("run", "--kubeconfig", "kubeconfig"),
            {"kubeconfig": "clusters: [\n"},
            {},
            ("from kubeconfig:", "line 2"),
            id="a kubeconfig that is not YAML is named",
        ),
        pytest.param(
            (*DECIDE, "--config", "bad.yaml"),
            {"bad.yaml": "scheduler:\n  name: [\n"},
            {},
            ("bad.yaml: not valid YAML at line 3, column 1",),
            id="a YAML syntax error names the file and the line",
        ),
        pytest.param(
            ("demo", "--log-level", "LOUD"),
            {},
            {},
            ("--log-level", "'LOUD'", "WARNING"),
            id="an unknown demo log level names the value and the choices",
        ),
        pytest.param(
            DECIDE,
            {".env": "LOG_LEVEL=LOUD\n", "config.yaml": "logging: {format: text}\n"},
            {},
            (".env (LOG_LEVEL): logging.level: 'LOUD'",),
            id="a bad value from .env is blamed on .env, not on config.yaml",
        ),
        pytest.param(
            DECIDE,
            {"config.yaml": "logging: {format: text}\n"},
            {"LOG_LEVEL": "LOUD"},
            ("environment variable LOG_LEVEL: logging.level: 'LOUD'",),
            id="a bad value from the environment names the variable",
        ),
        pytest.param(
            ("run", "--config", "c.yaml"),
            {"c.yaml": "metrics:\n  address: 'not an address'\n"},
            {},
            ("c.yaml: metrics.address: 'not an address'",),
            id="a bad metrics.address is refused when the config is read",
        ),
        pytest.param(
            (*DECIDE, "--config", "c.yaml"),
            {"c.yaml": "scheduler:\n  request_timeout: .inf\n"},
            {},
            ("c.yaml: scheduler.request_timeout: inf", "finite"),
            id="an infinite request_timeout is refused",
        ),
        pytest.param(
            (*DECIDE, "--config", "c.yaml"),
            {"c.yaml": b"scheduler:\n  name: \xff\xfe\n"},
            {},
            ("c.yaml: not UTF-8 text (byte 0xff at offset 19)",),
            id="a config that is not UTF-8 names the byte",
        ),
        pytest.param(
            DECIDE,
            {".env": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
            {},
            (".env: not UTF-8 text",),
            id="a binary .env is named",
        ),
        pytest.param(
            (*DECIDE, "--config", "bomb.yaml"),
            {"bomb.yaml": ALIAS_BOMB},
            {},
            ("bomb.yaml: not valid YAML at line 2", "aliases"),
            id="a YAML alias bomb is refused in one short line",
        ),
        pytest.param(
            ("run", "--server", "http://127.0.0.1:9"),
            {},
            {},
            ("127.0.0.1:9", "scheduler.py check", "scheduler.py demo"),
            id="run without a reachable cluster suggests check and demo",
        ),
        pytest.param(
            ("decide", "--snapshot", str(SNAPSHOT), "--pod", "huge.yaml"),
            {"huge.yaml": HUGE_POD},
            {},
            ("huge.yaml: pod default/huge", "memory", "2^53"),
            id="a pod asking for 1e30 bytes is refused, naming the pod and the resource",
        ),
        pytest.param(
            ("decide", "--snapshot", "s.yaml", "--pod", str(PODS)),
            {"s.yaml": HUGE_NODE},
            {},
            ("s.yaml: node n: status.allocatable", "memory"),
            id="a snapshot node with 1e30 bytes is refused, naming the node",
        ),
        pytest.param(
            ("decide", "--snapshot", str(SNAPSHOT), "--pod", "deep.json"),
            {"deep.json": "[" * 100_000 + "]" * 100_000},
            {},
            ("deep.json: not valid JSON (nested too deeply)",),
            id="JSON nested beyond the parser's recursion is refused",
        ),
        pytest.param(
            ("decide", "--pod", str(PODS)),
            {},
            {},
            ("--snapshot",),
            id="a missing required option is one line, not the usage block",
        ),
        pytest.param(("launch",), {}, {}, ("'launch'",), id="an unknown command is named"),
    ],
)
def test_a_user_error_is_one_line_and_exit_2(tmp_path, args, files, env, fragments):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_one_line(cli(*args, cwd=tmp_path, env=env), *fragments)


def test_a_metrics_port_in_use_is_one_line_naming_the_port(tmp_path, cluster, busy_port):
    (tmp_path / "c.yaml").write_text(f"metrics:\n  address: 127.0.0.1\n  port: {busy_port}\n")
    result = cli("run", "--config", "c.yaml", "--server", cluster.url, cwd=tmp_path)
    # The scheduler may log its start-up (the chain it built) before it binds the port: the error is the one
    # line that is not a log record.
    logged = re.compile(r"^\d{4}-\d\d-\d\dT\S+ (INFO|DEBUG) ")
    lines = [line for line in result.stderr.decode().splitlines() if not logged.match(line)]
    kept = subprocess.CompletedProcess(result.args, result.returncode, result.stdout, "\n".join(lines).encode())
    assert_one_line(kept, f"metrics.port {busy_port}: cannot listen", "metrics.port: 0")


def test_no_command_prints_the_help_instead_of_running(tmp_path):
    result = cli(cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert result.stderr == b""
    assert b"usage: scheduler.py" in result.stdout and b"decide" in result.stdout and b"demo" in result.stdout


def test_a_reader_that_leaves_early_gets_no_broken_pipe_traceback(tmp_path):
    with subprocess.Popen(
        [sys.executable, str(SCHEDULER), *DECIDE, "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
    ) as process:
        process.stdout.close()  # `| head -0`: the reader is gone before the first line
        stderr = process.stderr.read()
        returncode = process.wait(timeout=60)
    assert stderr == b""
    assert returncode == 141
