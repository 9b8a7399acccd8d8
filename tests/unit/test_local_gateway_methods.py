"""A known path asked with another method answers as the deployed API does: API Gateway takes the
path's ``ANY`` route, whose function answers 405 with the path's methods in ``Allow`` (routing comes
before the API key)."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from local.gateway import Functions, Gateway
from local.template import load


@pytest.fixture(autouse=True)
def _metrics_off(monkeypatch) -> None:
    """The functions run as the local run runs them: the template's namespace, metrics off."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ReferralHub")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


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


def test_a_wrong_method_needs_no_api_key_and_names_the_path_asked(client):
    # Given a path with a parameter, which takes POST only
    # When it is asked with DELETE and no API key
    response = client.delete("/campaigns/demo/flags")
    # Then the function of the path's ANY route answers 405, naming the path as asked
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json["error"] == {
        "code": "METHOD_NOT_ALLOWED",
        "message": "/campaigns/demo/flags does not take DELETE; it takes POST",
        "details": [],
    }


def test_a_path_without_an_any_route_answers_an_undeclared_method_404():
    # Given the template without its ANY routes (as a stack without the 405 function would be)
    from dataclasses import replace

    template = load()
    bare = replace(template, functions={name: replace(fn, fallbacks=[]) for name, fn in template.functions.items()})
    client = Client(Gateway(bare, Functions(bare), api_key="unit-key"))
    # When a known path is asked with another method
    response = client.delete("/imports", headers={"x-api-key": "unit-key"})
    # Then the answer is API Gateway's for a method the resource lacks: 404 ROUTE_NOT_FOUND
    assert response.status_code == 404
    assert response.json["error"]["code"] == "ROUTE_NOT_FOUND"


def test_the_405_function_answers_404_for_a_resource_the_document_lacks():
    # Given the 405 function, and an event for a resource the OpenAPI document does not have
    template = load()
    fn = template.functions["MethodNotAllowedFunction"]
    event = {
        "resource": "/elsewhere",
        "path": "/elsewhere",
        "httpMethod": "PUT",
        "headers": {},
        "multiValueHeaders": {},
        "requestContext": {"requestId": "r-1", "resourcePath": "/elsewhere", "httpMethod": "PUT"},
        "body": None,
        "isBase64Encoded": False,
    }
    # When it is invoked
    answer = Functions(template).invoke(fn, event)
    # Then it names no methods: the answer is 404 ROUTE_NOT_FOUND, with no Allow header
    assert answer["statusCode"] == 404
    assert "Allow" not in (answer.get("headers") or {})
    assert '"ROUTE_NOT_FOUND"' in answer["body"]
