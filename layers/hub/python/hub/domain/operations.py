"""The hub's operations, each declared once: its name (the operationId of the API, the name in
metrics, logs, bulk rows and 501 answers), how the API serves it, its request and answer models, the
method of a campaign's program that runs it, its bulk queue and its natural key.

Everything that lists operations reads this registry: the OpenAPI document and the API's operation
names (:mod:`hub.edge`), the bulk queues and the import checks (:mod:`hub.flows`), a program's
capabilities and its 501s (:mod:`hub.providers.program`). Adding an operation is one row here, its
program method and its function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from hub.domain.models import (
    AddedParticipant,
    Campaign,
    Contact,
    ContactDeletion,
    Conversion,
    Deletion,
    Flagged,
    ItemsOfCampaign,
    ItemsOfReferral,
    ItemsOfReward,
    Page,
    Participant,
    Redemption,
    Referral,
    RewardRemoval,
)
from hub.domain.requests import (
    AddParticipantRequest,
    ContactSyncRequest,
    ConvertRequest,
    DeleteContactRow,
    DeleteParticipantRow,
    FlagRequest,
    ImportRequest,
    RedeemRequest,
    RedriveRequest,
    UpdateParticipantRequest,
    UpdateParticipantRow,
    UploadRequest,
)


@dataclass(frozen=True)
class Operation:
    """One operation. ``method`` and ``path`` are its API route (None: an operation only the
    scheduled tasks run); the other HTTP fields say what the route answers."""

    method: str | None
    path: str | None
    name: str
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    success: int = 200
    #: other statuses answering with the success schema (add participant: 200 for an existing email)
    also: tuple[int, ...] = ()
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: tuple[int, ...] = (404, 502, 503, 504)
    #: called by a provider: no API key (its signature or token instead), no Idempotency-Key
    public: bool = False
    #: the method of :class:`hub.providers.program.ReferralProgram` that runs it (None: not a program's)
    program_method: str | None = None
    #: the prefix of its bulk queue's environment variables (``<queue>_QUEUE_URL``); None: no bulk
    queue: str | None = None
    #: where a CSV column that is not a field of the request goes in a bulk row (None: it is ignored)
    extra_columns_into: str | None = None
    #: the request fields that deduplicate a call sent without an Idempotency-Key
    natural_key: tuple[str, ...] = ()
    #: a bulk job of it needs no campaign
    campaignless: bool = False
    #: the model of its bulk rows, where it is not the request's (an update names the participant it
    #: changes; a delete has no body)
    row: type[BaseModel] | None = None

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PATCH", "DELETE")

    @property
    def row_model(self) -> type[BaseModel] | None:
        """The model a bulk row of it is validated into."""
        return self.row or self.request

    @property
    def route(self) -> tuple[str, str]:
        """The method and path of an operation the API serves."""
        if self.method is None or self.path is None:
            raise ValueError(f"{self.name} has no route")
        return self.method, self.path


#: A job's failures page: the row number it starts from (``jobs.row_cursor``).
ROW_CURSOR = {
    "type": "string",
    "pattern": "^[0-9]{1,9}$",
    "description": "the nextCursor of a previous page (a row number)",
}
#: The job listing's cursor: base64url (unpadded) of the listing index's position (``jobs._encode_cursor``).
LISTING_CURSOR = {
    "type": "string",
    # Empty is the first page, as no cursor is.
    "pattern": "^[A-Za-z0-9_-]*$",
    "maxLength": 1024,
    "contentEncoding": "base64url",
    "contentMediaType": "application/json",
    "description": "the nextCursor of a previous page; any other value answers 422",
}
#: A provider's own paging token (GrowSurf's next participant id, SparkLoop's next page number).
PROVIDER_CURSOR = {
    "type": "string",
    "pattern": "^[!-~]+$",
    "maxLength": 1024,
    "description": "the nextCursor of a previous page; any other value answers 422 or the provider's 502",
}
LIMIT_100 = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
#: A query flag: exactly ``true`` or ``false`` (``api.query_flag``).
FLAG = {"type": "string", "enum": ["true", "false"], "default": "false"}
#: The name of a bulk operation: the OpenAPI document fills in the enum (:func:`bulk_operations`).
BULK_OPERATION: dict[str, Any] = {"type": "string", "x-hub-enum": "bulkOperation"}

_DECLARED: list[Operation] = [
    Operation(
        "GET",
        "/campaigns",
        "listCampaigns",
        "The configured campaigns: each with its provider and the operations it supports",
        response=ItemsOfCampaign,
        errors=(),
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}",
        "getCampaign",
        "The campaign as its provider describes it, with its reward catalog (501 where the provider has no"
        " campaign endpoint)",
        response=Campaign,
        errors=(404, 501, 502, 503, 504),
        program_method="campaign_details",
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/participants",
        "listCampaignParticipants",
        "The campaign's participants, paged (limit, cursor; the answer's nextCursor)",
        response=Page[Participant],
        query={"limit": LIMIT_100, "cursor": PROVIDER_CURSOR},
        errors=(404, 501, 502, 503, 504),
        program_method="participants_page",
    ),
    Operation(
        "POST",
        "/campaigns/{campaign}/participants",
        "addParticipant",
        "Add a participant (201); an existing email answers 200 with created: false. A field the"
        " campaign's provider has no place for is refused with 422 naming it (docs/providers.md)",
        AddParticipantRequest,
        AddedParticipant,
        201,
        also=(200,),
        errors=(404, 409, 501, 502, 503, 504),
        program_method="add_participant",
        queue="ADD_PARTICIPANT",
        extra_columns_into="metadata",
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/participants/{email}",
        "getParticipant",
        "A participant",
        response=Participant,
        program_method="get_participant",
    ),
    Operation(
        "PATCH",
        "/campaigns/{campaign}/participants/{email}",
        "updateParticipant",
        "Change a participant's names, email, metadata or referrer; 200 with the participant. A field the"
        " campaign's provider has no place for is refused with 422 naming it (docs/providers.md)",
        UpdateParticipantRequest,
        Participant,
        errors=(404, 409, 501, 502, 503, 504),
        program_method="update_participant",
        queue="UPDATE_PARTICIPANT",
        extra_columns_into="metadata",
        row=UpdateParticipantRow,
    ),
    Operation(
        "DELETE",
        "/campaigns/{campaign}/participants/{email}",
        "deleteParticipant",
        "Remove the participant at its provider; with contact=true also delete its Loops contact (erasure)."
        " The answer says what was deleted where; 404 when there was nothing to delete",
        response=Deletion,
        query={"contact": {**FLAG, "description": "true: also delete the person's Loops contact"}},
        errors=(404, 501, 502, 503, 504),
        program_method="delete_participant",
        queue="DELETE_PARTICIPANT",
        row=DeleteParticipantRow,
    ),
    Operation(
        "POST",
        "/campaigns/{campaign}/conversions",
        "convert",
        "Credit the referrer of a referred participant (deduplicated on campaign and email)",
        ConvertRequest,
        Conversion,
        errors=(404, 409, 501, 502, 503, 504),
        program_method="convert",
        queue="CONVERT",
        natural_key=("email",),
    ),
    Operation(
        "POST",
        "/campaigns/{campaign}/redemptions",
        "redeem",
        "Redeem a reward (deduplicated on campaign, email and reward); fulfill: false approves it without"
        " fulfilling it where the provider tells the two apart (422 elsewhere)",
        RedeemRequest,
        Redemption,
        errors=(404, 409, 501, 502, 503, 504),
        program_method="redeem",
        queue="REDEEM",
        natural_key=("email", "reward_id", "fulfill"),
    ),
    Operation(
        "DELETE",
        "/campaigns/{campaign}/participants/{email}/rewards/{rewardId}",
        "removeReward",
        "Remove a participant's reward that is not yet approved, where the provider can",
        response=RewardRemoval,
        errors=(404, 409, 501, 502, 503, 504),
        program_method="remove_reward",
    ),
    Operation(
        "POST",
        "/campaigns/{campaign}/flags",
        "flag",
        "Flag a participant for fraud review",
        FlagRequest,
        Flagged,
        errors=(404, 501, 502, 503, 504),
        program_method="flag",
        queue="FLAG",
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/participants/{email}/referrals",
        "listReferrals",
        "Who a participant referred, with status",
        response=ItemsOfReferral,
        errors=(404, 501, 502, 503, 504),
        program_method="referrals",
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/participants/{email}/rewards",
        "listRewards",
        "A participant's rewards",
        response=ItemsOfReward,
        query={"status": {"type": "string", "enum": ["pending", "approved", "redeemed"]}},
        errors=(404, 501, 502, 503, 504),
        program_method="rewards",
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/leaderboard",
        "leaderboard",
        "Ranked participants, paged",
        response=Page[Participant],
        query={"limit": LIMIT_100, "cursor": PROVIDER_CURSOR},
        errors=(404, 501, 502, 503, 504),
        program_method="leaderboard",
    ),
    Operation(
        "GET",
        "/campaigns/{campaign}/referrals",
        "listCampaignReferrals",
        "The campaign's referrals, paged (limit, cursor, status). SparkLoop's referrals are all converted:"
        " another status answers 422 naming it",
        response=Page[Referral],
        query={
            "limit": LIMIT_100,
            "cursor": PROVIDER_CURSOR,
            "status": {"type": "string", "enum": ["pending", "converted", "expired", "invited"]},
        },
        errors=(404, 501, 502, 503, 504),
        program_method="campaign_referrals",
    ),
    Operation(
        "POST",
        "/contacts/sync",
        "syncContact",
        "Upsert a contact in Loops, or copy a participant's referral stats onto it",
        ContactSyncRequest,
        errors=(404, 502, 503, 504),
        queue="SYNC_CONTACT",
        extra_columns_into="properties",
        campaignless=True,
    ),
    Operation(
        "GET",
        "/contacts/{email}",
        "getContact",
        "The Loops contact with this email; 404 when there is none",
        response=Contact,
        errors=(404, 502, 503, 504),
    ),
    Operation(
        "DELETE",
        "/contacts/{email}",
        "deleteContact",
        "Delete the Loops contact with this email; 404 when there is none",
        response=ContactDeletion,
        errors=(404, 502, 503, 504),
        queue="DELETE_CONTACT",
        row=DeleteContactRow,
        campaignless=True,
    ),
    Operation(
        "POST",
        "/imports",
        "createImport",
        "A bulk job from JSON rows, or from a CSV body (Content-Type text/csv, with campaign and operation as query"
        " parameters); 202 with jobId and total. One request carries at most 5,000 rows and 5 MB: past that,"
        " 413 IMPORT_TOO_LARGE, nothing started; send the file through POST /imports/uploads",
        ImportRequest,
        success=202,
        # Read with a CSV body only (a JSON body names them itself), so they are not constrained here.
        query={
            "campaign": {"type": "string", "description": "with a CSV body: the campaign"},
            "operation": {"type": "string", "description": "with a CSV body: the bulk operation"},
        },
        errors=(404, 501, 503),
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
        query={"cursor": ROW_CURSOR},
        errors=(404,),
    ),
    # The operator's routes (the `hub` command line).
    Operation(
        "GET",
        "/imports",
        "listImports",
        "Recent bulk jobs, newest first, with their status and counts (items, nextCursor)",
        query={"limit": LIMIT_100, "cursor": LISTING_CURSOR},
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
            "operation": {**BULK_OPERATION, "description": "a bulk operation, such as addParticipant"},
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
        errors=(503,),
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
    # What the scheduled tasks read from a campaign: no route of their own.
    Operation(
        None,
        None,
        "listParticipants",
        "Every participant of a campaign, page after page (the referral stats sync)",
        program_method="participants",
    ),
    Operation(
        None,
        None,
        "listPendingRewards",
        "Every reward of a campaign earned and not yet redeemed, with its participant (the pending rewards task)",
        program_method="pending_rewards",
    ),
]

#: Every operation by name.
OPERATIONS: dict[str, Operation] = {op.name: op for op in _DECLARED}


def routes() -> list[Operation]:
    """The operations the API serves, in the document's order."""
    return [op for op in _DECLARED if op.path is not None]


def bulk_operations() -> list[Operation]:
    """The operations a bulk job can run: each has its queue."""
    return [op for op in _DECLARED if op.queue is not None]


def of_program_method(method: str) -> Operation:
    """The operation a program method runs."""
    return next(op for op in _DECLARED if op.program_method == method)
