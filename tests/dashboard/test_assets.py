"""The dashboard's files are served by the API with the right types (no browser needed)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from api.server import start_api_server
from tests.api.support import settings_for

pytestmark = pytest.mark.integration


async def test_the_dashboard_files_are_served(tmp_path: Path) -> None:
    server = await start_api_server(settings_for(tmp_path / "kukuri.db"), port=0)
    try:
        async with aiohttp.ClientSession() as session:
            pages = {}
            for path in ("/", "/dashboard.css", "/dashboard.js"):
                async with session.get(server.url + path) as response:
                    assert response.status == 200
                    pages[path] = (response.content_type, await response.text())
    finally:
        await server.stop()

    assert [pages[p][0] for p in pages] == ["text/html", "text/css", "text/javascript"]
    html = pages["/"][1]
    assert '<link rel="stylesheet" href="/dashboard.css">' in html
    assert '<script src="/dashboard.js" defer></script>' in html
    assert 'name="viewport"' in html
    script = pages["/dashboard.js"][1]
    assert "/api/trending/stream" in script
    # The profile switch is a labelled group of toggle buttons, filled from the profile list endpoint.
    assert 'id="profile-switch" role="group" aria-label="Rank by score profile"' in html
    assert "aria-pressed" in script and "/api/trending/profiles" in script
    # API strings only ever become text: no HTML is parsed from script.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser"):
        assert sink not in script, sink
