"""The OpenAPI 3.1 document of the hub's API, built from the same pydantic models that validate the
requests and shape the answers, so the document cannot drift from the code. A test checks that its
routes are exactly the template's.

The document is exact, so that a client generated from it (and ``make fuzz``, Schemathesis with all
its checks) finds that every request it allows is accepted and every other one refused: emails carry
``format: email`` and the pattern the hub checks, text fields that the models strip say they must
hold more than whitespace, flat objects say their values are scalars, bulk operation names are an
enum, cursors have their shape, and each operation lists every status it can answer, the gateway's
(403, 413, 429) included.
"""

from __future__ import annotations

from typing import Any

from pydantic import AfterValidator, BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema

from hub.domain import operations
from hub.domain.operations import Operation
from hub.domain.requests import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    ImportRequest,
    RedriveRequest,
    UpdateParticipantRequest,
    UploadRequest,
    check_email,
)

REF = "#/components/schemas/{model}"

#: The operations the API serves (:mod:`hub.domain.operations`), in the document's order.
OPERATIONS: list[Operation] = operations.routes()
#: The bulk operations that need no campaign (``imports.check_target``).
CAMPAIGNLESS_OPERATIONS = [op.name for op in operations.bulk_operations() if op.campaignless]


def _char_class(characters: str) -> str:
    return "".join(f"\\u{ord(character):04x}" for character in characters)


# What pydantic's ``strip_whitespace`` removes: Unicode White_Space (``str.isspace`` but for the four
# information separators U+001C to U+001F).
# Spelled out: ``\s`` means a different set in ECMA-262, in Python and in Rust regular expressions.
_STRIPPED_SPACE = _char_class(
    "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in "\x1c\x1d\x1e\x1f")
)
#: ``requests.check_email``. ``idn-email``, not ``email``: the hub takes non-ASCII local parts (RFC 6531).
EMAIL = {"type": "string", "format": "idn-email", "maxLength": EMAIL_MAX_LENGTH, "pattern": EMAIL_PATTERN}
#: A stripped text field with a minimum length must hold a character that is not whitespace.
NOT_BLANK_PATTERN = f"[^{_STRIPPED_SPACE}]"
#: An Idempotency-Key: 1 to 255 printable characters (HTTP carries Latin-1), not all spaces.
_PRINTABLE = "\\u0020-\\u007e\\u00a1-\\u00ac\\u00ae-\\u00ff"
IDEMPOTENCY_KEY_PATTERN = f"^[{_PRINTABLE}]*[\\u0021-\\u007e\\u00a1-\\u00ac\\u00ae-\\u00ff][{_PRINTABLE}]*$"
_WEBHOOK_PROVIDER = {"type": "string", "enum": ["growsurf", "viral_loops", "sparkloop"]}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}


class _AnswerSchema(GenerateJsonSchema):
    """Answers are ``model_dump``-ed whole (``HubModel.to_wire``): every field is in every answer, a
    field without a value as null, so an answer's schema requires each one (its nullable fields say
    ``null`` in their ``anyOf``). Requests keep their optional fields optional."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            return True
        return super().field_is_required(field, total)


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    bulk_names = [op.name for op in operations.bulk_operations()]
    models: list[tuple[type[BaseModel], Any]] = []
    for op in OPERATIONS:
        if op.request is not None:
            models.append((op.request, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, defs = models_json_schema(models, ref_template=REF, by_alias=True, schema_generator=_AnswerSchema)
    schemas = {**defs.get("$defs", {}), "Error": _ERROR_SCHEMA}
    request_models = {op.request for op in OPERATIONS if op.request is not None}
    for model in _with_nested(request_models):
        _exact_request(model, schemas[model.__name__], bulk_names)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        method, path = op.route
        paths.setdefault(path, {})[method.lower()] = _operation(op, refs, bulk_names)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Referral Hub",
            "version": "1.0.0",
            "description": "One API in front of Viral Loops, GrowSurf, SparkLoop and Loops. A path asked with a"
            " method it does not take answers 405 with an Allow header (docs/api.md).",
        },
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        },
    }


def _with_nested(models: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """``models`` and the request models their fields hold (``ContactSyncRequest.event``)."""
    found: set[type[BaseModel]] = set()
    pending = list(models)
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.add(model)
        for info in model.model_fields.values():
            for part in _annotation_parts(info.annotation):
                if isinstance(part, type) and issubclass(part, BaseModel):
                    pending.append(part)
    return found


def _annotation_parts(annotation: Any) -> list[Any]:
    parts = [annotation]
    for arg in getattr(annotation, "__args__", ()):
        parts += _annotation_parts(arg)
    return parts


def _validators(model: type[BaseModel], name: str) -> set[Any]:
    """The after-validators of a field, also those inside ``X | None``."""
    info = model.model_fields[name]
    found = {m.func for m in info.metadata if isinstance(m, AfterValidator)}
    for part in _annotation_parts(info.annotation):
        found |= {m.func for m in getattr(part, "__metadata__", ()) if isinstance(m, AfterValidator)}
    return found


def _exact_request(model: type[BaseModel], schema: dict[str, Any], bulk_names: list[str]) -> None:
    """What a request model checks beyond what pydantic writes into its JSON schema, written in."""
    properties: dict[str, Any] = schema.get("properties", {})
    for name, info in model.model_fields.items():
        prop = properties.get(info.alias or name)
        if prop is None:
            continue
        validators = _validators(model, name)
        for branch in prop.get("anyOf", [prop]):
            _exact_branch(branch, validators)
            if name == "operation" and branch.get("type") == "string":
                branch.pop("pattern", None)
                branch["enum"] = bulk_names
    _exact_model(model, schema)


def _exact_model(model: type[BaseModel], schema: dict[str, Any]) -> None:
    """What a request model's own validators check of the body as a whole, written in."""
    properties: dict[str, Any] = schema.get("properties", {})
    if model in (ImportRequest, UploadRequest):
        schema["anyOf"] = [
            {"required": ["operation"], "properties": {"operation": {"enum": CAMPAIGNLESS_OPERATIONS}}},
            {"required": ["campaign"], "properties": {"campaign": {"type": "string"}}},
        ]
        schema["description"] = f"campaign is required unless operation is one of {', '.join(CAMPAIGNLESS_OPERATIONS)}"
    if model is ImportRequest:
        properties["rows"]["minItems"] = 1
    if model is UpdateParticipantRequest:
        # An update changes something: one field at least, and not null (null is a field left out).
        schema["minProperties"] = 1
        schema["anyOf"] = [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in properties]
        schema["description"] = f"at least one of {', '.join(properties)}, not null"


def _exact_branch(branch: dict[str, Any], validators: set[Any]) -> None:
    """One branch of a field's schema, with what the field's validators check written in."""
    if check_email in validators and branch.get("type") == "string":
        branch.update(EMAIL)
    elif _is_flat(validators) and branch.get("type") == "object":
        # Nested values are refused (requests._flat): a flat object holds scalars only.
        branch["additionalProperties"] = {"type": ["string", "number", "boolean", "null"]}
        # Loops refuses a property without a name (422 from the hub): the document says so first.
        branch["propertyNames"] = {"minLength": 1}
    elif branch.get("type") == "string" and branch.get("minLength", 0) >= 1:
        # The models strip text before checking its length: only whitespace is empty.
        branch["pattern"] = NOT_BLANK_PATTERN


def _is_flat(validators: set[Any]) -> bool:
    return any(getattr(func, "__name__", "") == "_flat" for func in validators)


def statuses(op: Operation) -> list[int]:
    """Every status ``op`` can answer: its success, its handler's domain errors, and what every such
    route can answer (a body that cannot be read, invalid input, the API key or the signature, the
    gateway's size limit and throttle, an Idempotency-Key reused)."""
    found = {op.success, *op.also, *op.errors, 429, 401 if op.public else 403}
    has_body = op.request is not None or op.public
    keyed_write = op.is_write and not op.public
    if has_body:
        found |= {400, 413}
    if has_body or op.query or "{" in op.route[1] or keyed_write:
        found.add(422)
    if keyed_write:
        found.add(409)
    return sorted(found)


_DESCRIPTIONS = {
    400: "The body cannot be read: empty, not JSON, or not a JSON object",
    401: "The signature or token is missing, stale or wrong",
    403: "No or a wrong API key",
    404: "Unknown campaign, participant, contact or job",
    409: "A conflict: already converted, email taken, or an Idempotency-Key reused or still in progress",
    413: "The request is larger than a Lambda function takes (6 MB), or an import past its caps (5,000 rows, 5 MB;"
    " POST /imports/uploads takes any size)",
    422: "Invalid input: which field, and why",
    429: "Throttled (the API's usage plan, or a provider's limit outlasting the budget); see Retry-After",
    501: "The campaign's provider has no such operation",
    502: "The provider failed",
    503: "The provider refused the connection or is unavailable, or SQS did not take the rows (QUEUE_ERROR)",
    504: "The provider did not answer in time",
}


_IDEMPOTENCY_KEY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Replays answer the first response again (header Idempotent-Replayed: true)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
}
_REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer to an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_RETRY_AFTER_HEADER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}}


def _operation(op: Operation, refs: dict[Any, Any], bulk_names: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "parameters": _parameters(op, bulk_names),
        "responses": _responses(op, refs),
    }
    if op.request is not None:
        spec["requestBody"] = {
            # The redrive body is optional: without one, every queue is redriven.
            "required": op.request is not RedriveRequest,
            "content": {"application/json": {"schema": refs[(op.request, "validation")]}},
        }
    if op.public:
        spec["security"] = []
        if op.request is None:
            spec["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    return spec


def _parameters(op: Operation, bulk_names: list[str]) -> list[dict[str, Any]]:
    """The operation's path parameters, query parameters and (for a keyed write) Idempotency-Key."""
    parameters: list[dict[str, Any]] = []
    for name in ("campaign", "email", "rewardId", "jobId", "provider"):
        if "{" + name + "}" in op.route[1]:
            schema = {"email": EMAIL, "provider": _WEBHOOK_PROVIDER}.get(name, {"type": "string", "minLength": 1})
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    for name, schema in op.query.items():
        if schema.get("x-hub-enum") == "bulkOperation":
            schema = {key: value for key, value in schema.items() if key != "x-hub-enum"} | {"enum": bulk_names}
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    if op.is_write and not op.public:
        parameters.append(_IDEMPOTENCY_KEY_HEADER)
    return parameters


def _responses(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    """Each status the operation answers: its success schema, or the error shape."""
    success_schema = refs[(op.response, "serialization")] if op.response is not None else {"type": "object"}
    success = _json("Success", success_schema)
    if op.is_write and not op.public:
        success["headers"] = _REPLAYED_HEADER
    error_ref = {"$ref": REF.format(model="Error")}
    responses: dict[str, Any] = {}
    for status in statuses(op):
        if status == op.success:
            responses[str(status)] = success
        elif status in op.also:
            responses[str(status)] = {**success, "description": "Success: the existing resource"}
        else:
            responses[str(status)] = _json(_DESCRIPTIONS.get(status, "See the error codes"), error_ref)
    responses["429"]["headers"] = _RETRY_AFTER_HEADER
    return responses


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
