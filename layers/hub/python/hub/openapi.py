"""The OpenAPI 3.1 document of the hub's API, built from the same pydantic models that validate the
requests and shape the answers, so the document cannot drift from the code. A test checks that its
routes are exactly the template's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .models import Page, Participant, Referral, Reward
from .schemas import (
    AddParticipantRequest,
    ContactSyncRequest,
    ConvertRequest,
    FlagRequest,
    ImportRequest,
    RedeemRequest,
    RedriveRequest,
    UploadRequest,
)

REF = "#/components/schemas/{model}"


class ItemsOfReferral(BaseModel):
    items: list[Referral]


class ItemsOfReward(BaseModel):
    items: list[Reward]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    success: int = 200
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: tuple[int, ...] = (404, 502, 503, 504)
    #: called by a provider: no API key (its signature or token instead), no Idempotency-Key
    public: bool = False

    @property
    def is_write(self) -> bool:
        return self.method == "POST"


_EMAIL = {"type": "string", "format": "email"}
_WEBHOOK_PROVIDER = {"type": "string", "enum": ["growsurf", "viral_loops", "sparkloop"]}

OPERATIONS: list[Operation] = [
    Operation(
        "POST",
        "/campaigns/{campaign}/participants",
        "addParticipant",
        "Add a participant (201); an existing email answers 200 with created: false",
        AddParticipantRequest,
        Participant,
        201,
        errors=(404, 409, 501, 502, 503, 504),
    ),
    Operation(
        "GET", "/campaigns/{campaign}/participants/{email}", "getParticipant", "A participant", response=Participant
    ),
    Operation(
        "POST",
        "/campaigns/{campaign}/conversions",
        "convert",
        "Credit the referrer of a referred participant (deduplicated on campaign and email)",
        ConvertRequest,
        errors=(404, 409, 501, 502, 503, 504),
    ),
    Operation(
        "POST",
        "/campaigns/{campaign}/redemptions",
        "redeem",
        "Redeem a reward (deduplicated on campaign, email and reward)",
        RedeemRequest,
        errors=(404, 409, 501, 502, 503, 504),
    ),
    Operation(
        "POST",
        "/campaigns/{campaign}/flags",
        "flag",
        "Flag a participant for fraud review",
        FlagRequest,
        errors=(404, 501, 502, 503, 504),
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/participants/{email}/referrals",
        "listReferrals",
        "Who a participant referred, with status",
        response=ItemsOfReferral,
        errors=(404, 501, 502, 503, 504),
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/participants/{email}/rewards",
        "listRewards",
        "A participant's rewards",
        response=ItemsOfReward,
        query={"status": {"type": "string", "enum": ["pending", "approved", "redeemed"]}},
        errors=(404, 501, 502, 503, 504),
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/leaderboard",
        "leaderboard",
        "Ranked participants, paged",
        response=Page[Participant],
        query={
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "cursor": {"type": "string"},
        },
        errors=(404, 501, 502, 503, 504),
    ),
    Operation(
        "POST",
        "/contacts/sync",
        "syncContact",
        "Upsert a contact in Loops, or copy a participant's referral stats onto it",
        ContactSyncRequest,
        errors=(404, 502, 503, 504),
    ),
    Operation(
        "POST",
        "/imports",
        "createImport",
        "A bulk job from JSON rows, or from a CSV body (Content-Type text/csv, with campaign and operation as query"
        " parameters); 202 with jobId and total",
        ImportRequest,
        success=202,
        query={"campaign": {"type": "string"}, "operation": {"type": "string"}},
        errors=(400, 404, 501),
    ),
    Operation(
        "POST",
        "/imports/uploads",
        "createImportUpload",
        "A bulk job whose CSV file is PUT to the returned uploadUrl (for files larger than a request may carry)",
        UploadRequest,
        success=201,
        errors=(404, 501),
    ),
    Operation(
        "GET",
        "/imports/{jobId}",
        "getImport",
        "A bulk job's status, counts and failed rows (paged by cursor)",
        query={"cursor": {"type": "string", "pattern": "^[0-9]+$"}},
        errors=(404,),
    ),
    # The operator's routes (the `hub` command line).
    Operation(
        "GET",
        "/imports",
        "listImports",
        "Recent bulk jobs, newest first, with their status and counts (items, nextCursor)",
        query={
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "cursor": {"type": "string"},
        },
        errors=(),
    ),
    Operation(
        "GET",
        "/doctor",
        "doctor",
        "The configuration and every provider key checked against its provider: ok, and each check with"
        " its status (ok, warning, problem) and what to do",
        errors=(),
    ),
    Operation(
        "GET",
        "/deadletters",
        "listDeadLetters",
        "Each bulk operation's dead-letter queue: its count and its first messages with their row and error",
        query={
            "operation": {"type": "string", "description": "a bulk operation, such as addParticipant"},
            "limit": {"type": "integer", "minimum": 0, "maximum": 50, "default": 10},
        },
        errors=(),
    ),
    Operation(
        "POST",
        "/deadletters/redrive",
        "redriveDeadLetters",
        "Put dead-letter messages back on their operation's queue, their rows reopened so they count again;"
        " the body is optional ({operation} picks one queue); done is false when some may remain",
        RedriveRequest,
        errors=(),
    ),
    Operation(
        "POST",
        "/webhooks/{provider}",
        "receiveWebhook",
        "A provider's webhook delivery (its own JSON), verified by the campaign's webhook secret: GrowSurf's"
        " GrowSurf-Signature, SparkLoop's SparkLoop-Token, Viral Loops' ?token=. 200 with jobId, the Loops"
        " events queued and the duplicates; events the hub does not act on are acknowledged and ignored",
        query={
            "campaign": {"type": "string", "description": "the campaign, when the payload does not name it"},
            "token": {"type": "string", "description": "Viral Loops only: the campaign's webhook secret"},
        },
        errors=(400, 404, 409, 503),
        public=True,
    ),
    Operation("GET", "/openapi.json", "openapi", "This document", errors=()),
]

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


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    models: list[tuple[type[BaseModel], Any]] = []
    for op in OPERATIONS:
        if op.request is not None:
            models.append((op.request, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, defs = models_json_schema(models, ref_template=REF, by_alias=True)
    schemas = {**defs.get("$defs", {}), "Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Referral Hub",
            "version": "1.0.0",
            "description": "One API in front of Viral Loops, GrowSurf, SparkLoop and Loops.",
        },
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        },
    }


def _operation(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    for name in ("campaign", "email", "jobId", "provider"):
        if "{" + name + "}" in op.path:
            schema = {"email": _EMAIL, "provider": _WEBHOOK_PROVIDER}.get(name, {"type": "string", "minLength": 1})
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    for name, schema in op.query.items():
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    if op.is_write and not op.public:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Replays answer the first response again (header Idempotent-Replayed: true)",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    success_schema = refs[(op.response, "serialization")] if op.response is not None else {"type": "object"}
    responses: dict[str, Any] = {str(op.success): _json("Success", success_schema)}
    error_ref = {"$ref": REF.format(model="Error")}
    if op.is_write or parameters:
        responses["422"] = _json("Invalid input: which field, and why", error_ref)
    if op.public:
        responses["401"] = _json("The signature or token is missing, stale or wrong", error_ref)
    else:
        responses["403"] = _json("No or a wrong API key", error_ref)
    for status in op.errors:
        responses[str(status)] = _json("See the error codes", error_ref)
    spec: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
    }
    if op.request is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.request, "validation")]}},
        }
    if op.public:
        spec["security"] = []
        if op.request is None:
            spec["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    return spec


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
