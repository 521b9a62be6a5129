"""A real API server on a free port over a real SQLite file, and a client that checks every answer
against the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from api.server import ApiServer, start_api_server
from config.settings import Settings
from tests.api.support import assert_matches_openapi, settings_for


@dataclass
class Api:
    db: Path
    server: ApiServer
    session: aiohttp.ClientSession

    async def get(self, path: str, query: str = "", *, status: int = 200) -> Any:
        """GET `path?query`, expect `status` and JSON, check the body against the OpenAPI document."""
        url = f"{self.server.url}{path}{'?' + query if query else ''}"
        async with self.session.get(url) as response:
            body = await response.json(content_type=None)
            assert response.status == status, body
            assert response.content_type == "application/json"
        assert_matches_openapi(path, status, body)
        return body


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Api]:
    """A real server for `settings` on a free port, and a client session for it."""
    server = await start_api_server(settings, port=0, poll_interval=0.05)
    try:
        async with aiohttp.ClientSession() as session:
            yield Api(settings.database.path, server, session)
    finally:
        await server.stop()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serving(settings_for(tmp_path / "kukuri.db")) as served:
        yield served
