"""The OpenAPI document says exactly what the hub accepts and answers (``make fuzz`` checks it against the
running hub; these tests check what can be read from the document and the code alone)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from hub.domain.requests import check_email
from hub.edge.openapi import OPERATIONS, document
from hub.flows.bulk import OPERATIONS as BULK_OPERATIONS
from local.template import load

DOCUMENT = document()
METHODS = ("get", "post", "patch", "put", "delete")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, spec)
        for path, item in DOCUMENT["paths"].items()
        for method, spec in item.items()
        if method in METHODS
    ]


def _validator(schema: dict[str, Any]) -> Any:
    # The document's components travel with the schema, so that its $refs resolve.
    return jsonschema_rs.Draft202012Validator({**schema, "components": DOCUMENT["components"]}, validate_formats=True)


def _body_schema(path: str, method: str = "post") -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def _parameter(path: str, method: str, name: str) -> dict[str, Any]:
    spec = DOCUMENT["paths"][path][method]
    return next(p["schema"] for p in spec["parameters"] if p["name"] == name)


def _email_properties(schema: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(schema, dict):
        for name, prop in schema.get("properties", {}).items():
            if name == "email":
                found += [branch for branch in prop.get("anyOf", [prop]) if branch.get("type") == "string"]
        for value in schema.values():
            found += _email_properties(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _email_properties(value)
    return found


def test_every_email_in_a_path_has_the_email_format_and_pattern():
    # Given every path parameter named email
    emails = [
        parameter["schema"]
        for _, _, spec in _operations()
        for parameter in spec["parameters"]
        if parameter["in"] == "path" and parameter["name"] == "email"
    ]
    # Then each says it is an (internationalized) email address, with the hub's own pattern and limit
    assert emails
    assert all(e["format"] == "idn-email" and e["pattern"] and e["maxLength"] == 254 for e in emails)


def test_every_email_in_a_body_has_the_email_format_and_pattern():
    # Given every property named email of a request body (and of the models a body holds)
    schemas = DOCUMENT["components"]["schemas"]
    emails = _email_properties([schemas[op.request.__name__] for op in OPERATIONS if op.request is not None])
    # Then each says it is an (internationalized) email address, with the hub's own pattern and limit
    assert len(emails) >= 5
    assert all(e["format"] == "idn-email" and e["pattern"] and e["maxLength"] == 254 for e in emails)


@pytest.mark.parametrize("email", ["ada@example.com", "zoë@example.com", "o'neil+x@ex-ample.co.uk"])
def test_an_email_the_document_allows_is_one_the_hub_takes(email):
    # Given an address the path schema allows
    assert _validator(_parameter("/campaigns/{campaign}/participants/{email}", "get", "email")).is_valid(email)
    # Then the hub's check takes it
    assert check_email(email) == email


def test_every_cursor_has_a_shape():
    # Given every query parameter named cursor
    cursors = [
        parameter["schema"]
        for _, _, spec in _operations()
        for parameter in spec["parameters"]
        if parameter["in"] == "query" and parameter["name"] == "cursor"
    ]
    # Then each has a pattern and a bounded length
    assert len(cursors) == 5
    assert all(c["pattern"].startswith("^") and c["pattern"].endswith("$") for c in cursors)
    assert all("maxLength" in c or "}$" in c["pattern"] for c in cursors)


def test_every_bulk_operation_name_is_an_enum_of_the_bulk_operations():
    # Given the bulk operation names of the import, upload and redrive bodies and of the dead-letter query
    schemas = DOCUMENT["components"]["schemas"]
    names = [schemas[model]["properties"]["operation"] for model in ("ImportRequest", "UploadRequest")]
    names.append(next(b for b in schemas["RedriveRequest"]["properties"]["operation"]["anyOf"] if "enum" in b))
    names.append(_parameter("/deadletters", "get", "operation"))
    # Then each is the enum of the operations that have a queue
    assert all(name["enum"] == list(BULK_OPERATIONS) for name in names)


def _handler_source(method: str, path: str) -> str:
    fn = next(fn for route, fn in load().routes() if (route.method, route.path) == (method, path))
    return (fn.code_dir / f"{fn.module}.py").read_text()


def _statuses_the_handler_can_answer(method: str, path: str) -> set[int]:
    source = _handler_source(method, path)
    op = next(op for op in OPERATIONS if (op.method, op.path) == (method, path))
    expected = {op.success, 429, 401 if op.public else 403}
    if "parse_body" in source or op.public:
        expected |= {400, 413, 422}
    if "api.write(" in source:
        expected.add(409)
    if "program_for(" in source or "check_target(" in source:
        expected.add(404)  # an unknown campaign
    # A write the campaign's provider may not have (every provider has each read).
    if ("program_for(" in source and op.method != "GET") or "check_target(" in source:
        expected.add(501)
    if "program_for(" in source:
        expected |= {502, 503, 504}
    if "query_int(" in source or "query_enum(" in source or "path_email(" in source or "cursor" in source:
        expected.add(422)
    return expected


@pytest.mark.parametrize(("method", "path"), sorted({(op.method, op.path) for op in OPERATIONS}))
def test_every_route_lists_the_statuses_its_handler_can_answer(method, path):
    # Given what the route's handler does (reads a body, writes once, calls a provider, reads a query)
    expected = _statuses_the_handler_can_answer(method, path)
    # When the document's answers of the route are read
    documented = {int(status) for status in DOCUMENT["paths"][path][method.lower()]["responses"]}
    # Then every status the handler can answer is listed
    assert expected <= documented, sorted(expected - documented)


def test_every_throttled_answer_documents_retry_after():
    # Given every 429 answer
    answers = [spec["responses"]["429"] for _, _, spec in _operations()]
    # Then each says it carries Retry-After
    assert all("Retry-After" in answer["headers"] for answer in answers)


# Requests Schemathesis generated from the earlier document that the hub refused (422): each is now
# outside the document.
REFUSED_BODIES = [
    ("/campaigns/{campaign}/conversions", {"email": ""}),
    ("/campaigns/{campaign}/flags", {"email": "", "reason": "0"}),
    ("/campaigns/{campaign}/participants", {"email": ""}),
    ("/campaigns/{campaign}/redemptions", {"email": "", "milestoneId": None, "rewardId": "0"}),
    ("/contacts/sync", {"email": "\u00a8@z\u008c.\u0004\u00b6s"}),
    ("/contacts/sync", {"email": "ada@example.com", "properties": {"": "x"}}),
    ("/imports", {"campaign": None, "operation": "0", "rows": []}),
    ("/imports", {"campaign": None, "operation": "convert", "rows": [{}]}),
    ("/imports/uploads", {"campaign": None, "operation": "0"}),
    ("/deadletters/redrive", {"operation": "\u0097\u00bb"}),
    ("/campaigns/{campaign}/participants", {"email": "ada@example.com", "firstName": " "}),
    ("/campaigns/{campaign}/participants", {"email": "ada@example.com", "metadata": {"plan": {"tier": 1}}}),
]


@pytest.mark.parametrize(("path", "body"), REFUSED_BODIES)
def test_a_body_the_hub_refused_is_outside_the_document(path, body):
    # Given a body the hub answered 422
    validator = _validator(_body_schema(path))
    # Then the document does not allow it
    assert not validator.is_valid(body)


@pytest.mark.parametrize(
    ("path", "method", "name", "value"),
    [
        ("/imports/{jobId}", "get", "cursor", "998056902079"),
        ("/imports/{jobId}", "get", "cursor", "12a"),
        ("/deadletters", "get", "operation", ""),
        ("/imports", "get", "cursor", "%13iIl"),
        ("/campaigns/{campaign}/participants/{email}", "get", "email", "ada@example"),
    ],
)
def test_a_parameter_the_hub_refused_is_outside_the_document(path, method, name, value):
    # Given a parameter value the hub answered 422
    validator = _validator(_parameter(path, method, name))
    # Then the document does not allow it
    assert not validator.is_valid(value)


def test_a_sync_contact_import_needs_no_campaign():
    # Given an import of contact syncs without a campaign (the one bulk operation that needs none)
    body = {"operation": "syncContact", "rows": [{"email": "ada@example.com"}]}
    # Then the document allows it
    assert _validator(_body_schema("/imports")).is_valid(body)


def test_the_redrive_body_is_optional():
    # Given the redrive operation
    spec = DOCUMENT["paths"]["/deadletters/redrive"]["post"]
    # Then its body is not required (without one, every queue is redriven)
    assert spec["requestBody"]["required"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"firstName": None},
        {"firstName": None, "metadata": None},
        {"firstName": "Ada"},
        {"email": "ada.new@example.com"},
        {"metadata": {}},
        {"metadata": {"plan": "pro"}, "referrer": None},
        {"firstName": " "},
        {"nickname": "Ada"},
    ],
)
def test_the_document_allows_exactly_the_updates_the_hub_takes(body):
    # Given a PATCH body, and whether the update model takes it
    from pydantic import ValidationError

    from hub.domain.requests import UpdateParticipantRequest

    try:
        UpdateParticipantRequest.model_validate(body)
        taken = True
    except ValidationError:
        taken = False
    # Then the document allows it exactly when the hub takes it (an update changes one field at least)
    validator = _validator(_body_schema("/campaigns/{campaign}/participants/{email}", "patch"))
    assert validator.is_valid(body) is taken


@pytest.mark.parametrize("value", ["true", "false", "", "yes", "True", "1", "false "])
def test_the_document_allows_exactly_the_flags_the_hub_takes(monkeypatch, value):
    # Given the contact flag of a participant's deletion, and the hub's reading of a query flag
    for name, setting in load().function_globals["Environment"]["Variables"].items():
        if name.startswith("POWERTOOLS_") and isinstance(setting, str):
            monkeypatch.setenv(name, setting)
    from types import SimpleNamespace

    from hub.domain.errors import ValidationError
    from hub.edge import api

    app = SimpleNamespace(current_event=SimpleNamespace(get_query_string_value=lambda name: value))
    refusal = None
    try:
        api.query_flag(app, "contact")  # type: ignore[arg-type]
    except ValidationError as error:
        refusal = error.details
    taken = refusal is None
    assert refusal in (None, [{"field": "contact", "reason": "must be true or false"}])
    # Then the document allows it exactly when the hub takes it
    schema = _parameter("/campaigns/{campaign}/participants/{email}", "delete", "contact")
    assert _validator(schema).is_valid(value) is taken


def test_every_field_of_an_answer_is_required_as_every_answer_carries_it():
    # ``to_wire`` dumps every field, a field without a value as null: an answer's schema requires all
    # of them, and one that may be null says so.
    from hub.domain.models import Deletion

    schemas = DOCUMENT["components"]["schemas"]
    for name in ("Deletion", "Page_Referral_"):
        assert sorted(schemas[name]["required"]) == sorted(schemas[name]["properties"])
    deletion = Deletion(campaign="c", email="ada@example.com", deleted=True).to_wire()
    assert deletion["contactDeleted"] is None
    _validator({"$ref": "#/components/schemas/Deletion"}).validate(deletion)
    assert {"type": "null"} in schemas["Deletion"]["properties"]["contactDeleted"]["anyOf"]
    # A request's optional fields stay optional.
    assert schemas["RedeemRequest"]["required"] == ["email", "rewardId"]
