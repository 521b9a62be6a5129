"""The HTTP side of the read API (docs/api.md): routes, error handling, start and stop.

Handlers only parse parameters and serialize; what an answer contains is `api.queries`' job, and
`api.cache` answers repeated questions from memory until the database or the clock changes them.
The error middleware is the one place that turns failures into `{"error": {"code", "message"}}`,
so no request is ever answered with a stack trace or an HTML error page.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Final

from aiohttp import web

from api.cache import AnswerCache, AnswerLifetime, DatabaseVersion
from api.errors import ApiError, error_body
from api.feed import SnapshotFeed
from api.metrics import api_metrics
from api.params import (
    DEFAULT_LIMIT,
    DEFAULT_PER_TOPIC,
    MAX_LIMIT,
    MAX_PER_TOPIC,
    check_names,
    int_param,
    time_param,
    topic_ids_param,
)
from api.queries import TrendingReader
from config.settings import Settings
from observability.logs import log_event
from sinks.storage.snapshots import now_ms
from streams.windows import MINUTE_MS

log = logging.getLogger("kukuri_trending.api")

READER: Final = web.AppKey("reader", TrendingReader)
FEED: Final = web.AppKey("feed", SnapshotFeed)
ANSWERS: Final = web.AppKey("answers", AnswerCache)
DOCUMENT: Final = web.AppKey("document", bytes)

_STATUS_CODES: Final = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
# The dashboard's files and their content types; nothing else in the package is served.
_DASHBOARD_FILES: Final = {
    "/": ("index.html", "text/html"),
    "/dashboard.css": ("dashboard.css", "text/css"),
    "/dashboard.js": ("dashboard.js", "text/javascript"),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return _json(exc.body(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, "http_error")
        response = _json(error_body(code, exc.reason), status=exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except sqlite3.Error as exc:
        log_event(log, "trending_api.database_error", logging.ERROR, path=request.path, error=str(exc))
        return _json(error_body("database_unavailable", "the trending database cannot be read right now"), status=503)
    except Exception:
        log_event(log, "trending_api.internal_error", logging.ERROR, path=request.path, exc_info=True)
        return _json(error_body("internal_error", "internal server error"), status=500)


async def trending_topics(request: web.Request) -> web.Response:
    check_names(request.query, {"limit", "profile"})
    limit = int_param(request.query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    profile = request.query.get("profile")
    reader = request.app[READER]
    question = ("topics", limit) if profile is None else ("topics", limit, profile)
    return _json_body(await request.app[ANSWERS].answer(question, lambda: reader.topics(limit, profile)))


async def score_profiles(request: web.Request) -> web.Response:
    check_names(request.query, ())
    profiles = [asdict(p) for p in request.app[READER].computed_profiles]
    return web.Response(text=json.dumps(profiles, separators=(",", ":")), content_type="application/json")


async def compare_profiles(request: web.Request) -> web.Response:
    check_names(request.query, {"at"})
    at = time_param(request.query, "at")
    return _json((await request.app[READER].compare(at)).to_dict())


async def trending_posts(request: web.Request) -> web.Response:
    check_names(request.query, {"topic_ids", "per_topic"})
    per_topic = int_param(request.query, "per_topic", DEFAULT_PER_TOPIC, 1, MAX_PER_TOPIC)
    topic_ids = topic_ids_param(request.query)
    reader = request.app[READER]
    question = ("posts", topic_ids, per_topic)
    return _json_body(await request.app[ANSWERS].answer(question, lambda: reader.posts(topic_ids, per_topic)))


async def score_history(request: web.Request) -> web.Response:
    check_names(request.query, {"topic_ids"})
    topic_ids = topic_ids_param(request.query)
    return _json((await request.app[READER].history(topic_ids)).to_dict())


async def healthz(request: web.Request) -> web.Response:
    check_names(request.query, ())
    health = await request.app[READER].health()
    body = health.to_dict()
    if not health.ok:
        what = "no snapshot has been committed" if health.status == "missing" else "the newest snapshot is stale"
        body.update(error_body(health.status, what))
    return _json(body, status=200 if health.ok else 503)


async def trending_stream(request: web.Request) -> web.StreamResponse:
    check_names(request.query, {"limit"})
    limit = int_param(request.query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    return await request.app[FEED].handle(request, limit)


async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(body=request.app[DOCUMENT], content_type="application/json")


def deployment_document(profiles: Sequence[str]) -> bytes:
    """The OpenAPI document with `profile` limited to the profiles this deployment computes (the
    packaged file lists those of the default configuration)."""
    document = json.loads(_package_file("api", "openapi.json"))
    for parameter in document["paths"]["/api/trending/topics"]["get"]["parameters"]:
        if parameter["name"] == "profile":
            parameter["schema"]["enum"] = list(profiles)
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


async def dashboard_file(request: web.Request) -> web.Response:
    name, content_type = _DASHBOARD_FILES[request.path]
    response = web.Response(body=_package_file("dashboard", name), content_type=content_type, charset="utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


def create_app(reader: TrendingReader, feed: SnapshotFeed, answers: AnswerCache) -> web.Application:
    app = web.Application(middlewares=[api_metrics().middleware(), json_errors])
    app[READER] = reader
    app[FEED] = feed
    app[ANSWERS] = answers
    app[DOCUMENT] = deployment_document(reader.profile_names)
    app.router.add_get("/api/trending/topics", trending_topics)
    app.router.add_get("/api/trending/posts", trending_posts)
    app.router.add_get("/api/trending/history", score_history)
    app.router.add_get("/api/trending/profiles", score_profiles)
    app.router.add_get("/api/trending/profiles/compare", compare_profiles)
    app.router.add_get("/api/trending/stream", trending_stream)
    app.router.add_get("/api/openapi.json", openapi_document)
    app.router.add_get("/healthz", healthz)
    for path in _DASHBOARD_FILES:
        app.router.add_get(path, dashboard_file)
    app.on_response_prepare.append(_no_store)

    async def stop_feed(_app: web.Application) -> None:
        await feed.close()

    async def forget_answers(_app: web.Application) -> None:
        answers.clear()

    app.on_shutdown.append(stop_feed)
    app.on_cleanup.append(forget_answers)
    return app


@dataclass
class ApiServer:
    """A running API server; `url` has no trailing slash (`http://127.0.0.1:8080`)."""

    url: str
    reader: TrendingReader
    feed: SnapshotFeed
    answers: AnswerCache
    _runner: web.AppRunner

    async def stop(self) -> None:
        await self._runner.cleanup()
        await self.reader.close()
        log_event(log, "trending_api.stopped", url=self.url)


async def start_api_server(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    poll_interval: float = 0.2,
    feed_max_clients: int | None = None,
    feed_max_message_bytes: int | None = None,
    feed_heartbeat_seconds: float | None = None,
) -> ApiServer:
    """Serve the API for `settings.database.path` on host:port (default: settings.api; port 0 picks a free one).

    The `feed_*` limits bound the live feed (see `api.feed`): connections, client message size, and
    the ping interval after which an unresponsive client is dropped; by default `settings.api`'s.
    """
    reader = TrendingReader(settings)
    feed = SnapshotFeed(
        reader,
        poll_interval=poll_interval,
        max_clients=settings.api.feed_max_clients if feed_max_clients is None else feed_max_clients,
        max_message_bytes=(settings.api.feed_max_message_bytes if feed_max_message_bytes is None
                           else feed_max_message_bytes),
        heartbeat_seconds=(settings.api.feed_heartbeat_seconds if feed_heartbeat_seconds is None
                           else feed_heartbeat_seconds),
    )
    lifetime = AnswerLifetime(
        settings.interval_ms, settings.metrics.stale_after_minutes * MINUTE_MS, settings.metrics.enabled)
    answers = AnswerCache(DatabaseVersion(settings.database.path), lifetime, now_ms)
    runner = web.AppRunner(create_app(reader, feed, answers), access_log=None, handle_signals=False)
    await runner.setup()
    bind_host = settings.api.host if host is None else host
    try:
        site = web.TCPSite(runner, bind_host, settings.api.port if port is None else port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        await reader.close()
        raise
    bound_port = runner.addresses[0][1]
    url_host = f"[{bind_host}]" if ":" in bind_host else bind_host
    server = ApiServer(f"http://{url_host}:{bound_port}", reader, feed, answers, runner)
    log_event(log, "trending_api.started", url=server.url, database=str(settings.database.path))
    return server


async def _no_store(request: web.Request, response: web.StreamResponse) -> None:
    # Trending answers change with every snapshot; a cached one would hide a new snapshot or a stale flag.
    if request.path.startswith("/api/trending/") or request.path == "/healthz":
        response.headers["Cache-Control"] = "no-store"


def _json(body: dict[str, Any], *, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")


def _json_body(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json", charset="utf-8")


@functools.cache
def _package_file(package: str, name: str) -> bytes:
    return resources.files(package).joinpath(name).read_bytes()

