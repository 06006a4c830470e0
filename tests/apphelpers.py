"""Starting the app in tests, on 127.0.0.1 and a free port.

- `app_in_process(pipe)`: build_demo over the test's pipeline, launched in a thread (fast; shares
  the test process).
- `AppProcess(model_dir)`: `python app.py` in a subprocess (its own memory, so its peak RSS can be
  measured; optionally with every outbound non-loopback connection refused and logged, see
  `install_net_guard`).

Nothing heavy is imported at module level: the subprocess imports this file before anything else.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_app_module() -> Any:
    """app.py as a module (it is a script at the repo root, not in a package)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    spec = importlib.util.spec_from_file_location("momadiff_app", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    return app


@contextmanager
def app_in_process(pipe: Any) -> Iterator[str]:
    """The app over `pipe`, served from this process; yields its URL."""
    demo = load_app_module().build_demo(pipe)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


# ------------------------------------------------------------------------------------------
# Outbound network guard (installed in a subprocess before anything else is imported).

def _is_loopback(host: Any) -> bool:
    import ipaddress
    if host is None:                     # getaddrinfo(None, port): a local bind address
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in ("", "localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install_net_guard(log_path: str | os.PathLike) -> None:
    """Refuse (and log) every connect / name lookup to a non-loopback host; log the allowed ones.
    Each log line: 'ALLOW|BLOCK connect|connect_ex|getaddrinfo <target>'."""
    import errno
    log = open(log_path, "a", buffering=1, encoding="utf-8")
    orig_connect, orig_connect_ex = socket.socket.connect, socket.socket.connect_ex
    orig_getaddrinfo = socket.getaddrinfo

    def allowed(kind: str, sock: socket.socket | None, target: Any) -> bool:
        if sock is not None and sock.family not in (socket.AF_INET, socket.AF_INET6):
            ok = True                    # unix sockets and the like never leave the machine
        else:
            ok = _is_loopback(target[0] if isinstance(target, tuple) else target)
        log.write(f"{'ALLOW' if ok else 'BLOCK'} {kind} {target!r}\n")
        return ok

    def connect(self, address):
        if not allowed("connect", self, address):
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"network guard: no connection to {address!r}")
        return orig_connect(self, address)

    def connect_ex(self, address):
        if not allowed("connect_ex", self, address):
            return errno.ECONNREFUSED
        return orig_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not allowed("getaddrinfo", None, host):
            raise socket.gaierror(socket.EAI_NONAME, f"network guard: no lookup of {host!r}")
        return orig_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo


def blocked_attempts(log_path: str | os.PathLike) -> list[str]:
    path = Path(log_path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [ln for ln in lines if ln.startswith("BLOCK")]


# `python -c BOOT <guard log or ''> <script> args...`: guard first, then run the script as __main__.
BOOT = ("import sys; sys.path.insert(0, {tests!r}); import apphelpers\n"
        "if sys.argv[1]: apphelpers.install_net_guard(sys.argv[1])\n"
        "import runpy; sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')\n"
        ).format(tests=str(TESTS))


def run_python(code: str, workdir: str | os.PathLike, guard_log: str | os.PathLike | None = None,
               env: dict[str, str | None] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run Python `code` in a subprocess (under the network guard if guard_log is given)."""
    script = Path(workdir) / f"snippet-{time.monotonic_ns()}.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, "-c", BOOT, str(guard_log or ""), str(script)], cwd=ROOT,
                          env=_env(env), capture_output=True, text=True, timeout=timeout)


def _env(extra: dict[str, str | None] | None) -> dict[str, str]:
    """This process's environment with the repo on PYTHONPATH and `extra` applied (None unsets)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class AppProcess:
    """`python app.py --model DIR` on 127.0.0.1 in a subprocess. Use as a context manager."""

    def __init__(self, model_dir: str | os.PathLike, workdir: str | os.PathLike, env: dict[str, str | None] | None = None,
                 guard_log: str | os.PathLike | None = None, ready_timeout: float = 180):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.workdir = Path(workdir)
        self.log_path = self.workdir / "app.log"
        self.guard_log = guard_log
        self.ready_timeout = ready_timeout
        self.cmd = [sys.executable, "-c", BOOT, str(guard_log or ""), str(ROOT / "app.py"), "--model", str(model_dir),
                    "--host", "127.0.0.1", "--port", str(self.port)]
        self.env = _env(env)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "AppProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"the app did not answer within {self.ready_timeout} s:\n{self.output()[-3000:]}")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def memory_kb(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak resident set) of the server process, in kB."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out
