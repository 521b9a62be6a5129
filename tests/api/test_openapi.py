"""The OpenAPI document is valid, served, and describes exactly the routes the server has.

(Every JSON answer of the API tests is also checked against it: see `Api.get` in conftest.)
"""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from api.server import create_app
from tests.api.conftest import Api
from tests.api.support import openapi

pytestmark = pytest.mark.integration


def test_the_document_is_valid_openapi() -> None:
    validate(openapi())


async def test_the_document_is_served(api: Api) -> None:
    async with api.session.get(f"{api.server.url}/api/openapi.json") as response:
        assert response.status == 200
        assert await response.json() == openapi()


async def test_the_document_lists_every_route_and_no_other(api: Api) -> None:
    app = create_app(api.server.reader, api.server.feed, api.server.answers)
    served = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(path, method) for path, ops in openapi()["paths"].items() for method in ops}

    assert served == documented
