"""GET /openapi.json: the OpenAPI document of the hub's API."""

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.edge.openapi import document

app = api.make_app()


@cache
def _document() -> dict[str, Any]:
    return document()


@app.get("/openapi.json")
def openapi() -> Response:
    return api.json_response(200, _document())


lambda_handler = handlers.api(app)
