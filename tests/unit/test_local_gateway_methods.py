"""The local gateway answers a known path asked with another method as API Gateway's resources would:
405 with the path's methods in ``Allow`` (routing comes before the API key and any function)."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from local.gateway import Functions, Gateway
from local.template import load


@pytest.fixture(scope="module")
def client() -> Client:
    template = load()
    return Client(Gateway(template, Functions(template), api_key="unit-key"))


def test_a_known_path_with_another_method_answers_405_with_allow(client):
    # Given /imports, which takes GET and POST
    # When it is asked with DELETE
    response = client.delete("/imports", headers={"x-api-key": "unit-key"})
    # Then the answer is 405 naming the methods it takes
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.json["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_a_literal_segment_is_its_own_resource(client):
    # Given /imports/uploads (POST only) beside /imports/{jobId} (GET)
    # When /imports/uploads is asked with GET
    response = client.get("/imports/uploads", headers={"x-api-key": "unit-key"})
    # Then it is 405 for the literal resource, not a lookup of a job named "uploads"
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_head_on_a_get_route_answers_405(client):
    # Given a GET-only path (the template declares no HEAD)
    # When it is asked with HEAD
    response = client.head("/doctor", headers={"x-api-key": "unit-key"})
    # Then the answer is 405, as for any other undeclared method
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_an_unknown_path_still_answers_404(client):
    # Given a path no route has
    # When it is asked
    response = client.get("/nowhere", headers={"x-api-key": "unit-key"})
    # Then the answer is 404 ROUTE_NOT_FOUND
    assert response.status_code == 404
    assert response.json["error"]["code"] == "ROUTE_NOT_FOUND"
