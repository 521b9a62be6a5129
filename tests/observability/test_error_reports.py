"""Sentry reports reach a Sentry-compatible endpoint on 127.0.0.1 with the tags operators filter on.

The endpoint is a plain HTTP server that stores each envelope sentry-sdk posts; the tests parse the
envelopes as Sentry would. In-process tests run outside the event loop (sentry-sdk's asyncio
integration would otherwise stay hooked into the test session's loop); the notifier's path, which
runs inside a loop, is exercised in a subprocess, as is an uncaught exception.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk

from broker.embedded import free_loopback_port
from observability.error_reports import init_error_reports, report_failure

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
E = 1_731_229_200_000


@dataclass
class SentryStub:
    dsn: str
    envelopes: list[list[tuple[dict[str, Any], Any]]] = field(default_factory=list)

    def events(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Event payloads received so far, waiting up to `timeout` for the first one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [payload for envelope in self.envelopes for header, payload in envelope
                     if header.get("type") == "event"]
            if found:
                return found
            time.sleep(0.05)
        return []


def parse_envelope(body: bytes) -> list[tuple[dict[str, Any], Any]]:
    """Items of a Sentry envelope: a header line, then per item a header line and its payload
    (`length` bytes when the header gives one, else up to the next newline)."""
    _, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, json.loads(payload) if header.get("type") in ("event", "transaction") else payload))
    return items


@pytest.fixture
def sentry_stub() -> Iterator[SentryStub]:
    stub = SentryStub(dsn="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path.endswith("/envelope/"):
                stub.envelopes.append(parse_envelope(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.dsn = f"http://publickey@127.0.0.1:{server.server_address[1]}/42"
    try:
        yield stub
    finally:
        client = sentry_sdk.get_client()
        if client.is_active():
            client.close(timeout=2)
        sentry_sdk.get_global_scope().set_client(None)
        server.shutdown()
        server.server_close()


def test_without_a_dsn_nothing_starts() -> None:
    assert init_error_reports("", worker_id="w", instance="h") is False
    assert not sentry_sdk.get_client().is_active()
    report_failure(RuntimeError("x"), boundary=E, fatal=True)  # a no-op, not an error


def test_a_fatal_job_failure_arrives_with_its_tags(sentry_stub: SentryStub) -> None:
    assert init_error_reports(sentry_stub.dsn, worker_id="worker-7", instance="host-a")
    try:
        raise PermissionError(13, "attempt to write a readonly database")
    except PermissionError as exc:
        report_failure(exc, boundary=E, fatal=True)
    sentry_sdk.flush(5)
    [event] = sentry_stub.events()
    assert event["tags"] == {"boundary": str(E), "error_class": "fatal", "worker_id": "worker-7"}
    assert event["level"] == "fatal"
    assert event["server_name"] == "host-a"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "PermissionError"
    assert "readonly database" in exception["value"]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)


def test_an_uncaught_exception_is_reported_with_the_worker_id(sentry_stub: SentryStub) -> None:
    result = run_python(
        "from observability.error_reports import init_error_reports\n"
        f"init_error_reports({sentry_stub.dsn!r}, worker_id='worker-3', instance='host-b')\n"
        "raise TimeoutError('broker did not answer')\n"
    )
    assert result.returncode == 1 and "TimeoutError" in result.stderr
    [event] = sentry_stub.events()
    assert event["tags"] == {"error_class": "transient", "worker_id": "worker-3"}
    [exception] = event["exception"]["values"]
    assert exception["type"] == "TimeoutError"
    assert exception["mechanism"]["type"] == "excepthook" and exception["mechanism"]["handled"] is False


def test_the_alert_notifier_reports_failures_and_flushes_before_a_fatal_exit(sentry_stub: SentryStub) -> None:
    # Inside an event loop, as in the worker; the process exits right after the fatal report, so
    # the event must have been delivered by then.
    result = run_python(
        "import asyncio, os, sqlite3\n"
        "from config.settings import AlertSettings\n"
        "from observability.alerts import AlertNotifier\n"
        "async def main():\n"
        f"    settings = AlertSettings(sentry_dsn={sentry_stub.dsn!r})\n"
        "    notifier = AlertNotifier.from_settings(settings, now_ms=0, instance='host-c', worker_id='worker-9')\n"
        f"    await notifier.run_failed(1, sqlite3.OperationalError('database is locked'), boundary={E})\n"
        f"    alert = await notifier.run_failed(2, sqlite3.OperationalError('no such table: topic_metrics'), boundary={E}, fatal=True)\n"
        "    assert alert is not None and alert.kind == 'fatal'\n"
        "    os._exit(3)\n"
        "asyncio.run(main())\n"
    )
    assert result.returncode == 3, result.stderr
    events = sentry_stub.events()
    assert len(events) == 2, events
    by_level = {event["level"]: event for event in events}
    assert by_level["error"]["tags"] == {"boundary": str(E), "error_class": "transient", "worker_id": "worker-9"}
    assert by_level["fatal"]["tags"] == {"boundary": str(E), "error_class": "fatal", "worker_id": "worker-9"}
    assert by_level["fatal"]["exception"]["values"][0]["value"] == "no such table: topic_metrics"


def test_a_command_that_fails_reports_the_error_as_fatal(sentry_stub: SentryStub) -> None:
    env = {**os.environ, "KUKURI_SENTRY_DSN": sentry_stub.dsn, "KUKURI_KAFKA_BROKER": f"kafka://127.0.0.1:{free_loopback_port()}"}
    result = subprocess.run([sys.executable, "-m", "cli.main", "produce", "--rate", "1", "--topics", "1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "kafka.broker" in result.stderr
    [event] = sentry_stub.events()
    assert event["level"] == "fatal" and event["tags"]["error_class"] in ("transient", "fatal")
    assert event["tags"]["worker_id"].rsplit("-", 1)[1].isdigit()  # host-pid
