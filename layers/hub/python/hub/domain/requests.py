"""Request bodies of the hub's write routes, validated at the edge into typed models.

Unknown fields are refused rather than silently dropped, so a misspelt field is reported instead of
being lost; every error names the field and says why (SPEC: VALIDATION_ERROR with details).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

# An address as the providers take it (RFC 5321's dot-atom, with RFC 6531's non-ASCII characters in the
# local part, and an ASCII host name), written once for this check and for the OpenAPI document's
# ``pattern``: \\uXXXX escapes only, no ``\\s`` or ``\\w``, whose meaning differs between Python's,
# ECMA-262's and Rust's regular expressions. Control and whitespace characters are never part of it.
_SPACE = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace())
_ATEXT = f"(?:[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~-]|[^\\u0000-\\u009f{_SPACE}])"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_PATTERN = f"^{_ATEXT}+(?:\\.{_ATEXT}+)*@{_LABEL}(?:\\.{_LABEL})+$"
_EMAIL = re.compile(EMAIL_PATTERN)
#: RFC 5321's limits: the whole address, its local part, each label of its domain.
EMAIL_MAX_LENGTH = 254
_LOCAL_MAX_LENGTH = 64
_LABEL_MAX_LENGTH = 63


def check_email(value: str) -> str:
    """``value`` stripped, if it is an email address; else ValueError saying what one looks like."""
    value = value.strip()
    if len(value) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address such as ada@example.com")
    local, domain = value.rsplit("@", 1)
    if len(local) > _LOCAL_MAX_LENGTH or any(len(label) > _LABEL_MAX_LENGTH for label in domain.split(".")):
        raise ValueError("must be an email address such as ada@example.com")
    return value


def _flat(value: dict[str, Any]) -> dict[str, Any]:
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise ValueError(f"must be a flat object: '{key}' holds a nested value")
    return value


def _past(value: datetime) -> datetime:
    # A time without an offset is read as UTC, so every provider is sent the same instant.
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if value > datetime.now(UTC):
        raise ValueError("must be a time in the past (ISO 8601, such as 2026-03-14T10:34:56Z)")
    return value


Email = Annotated[str, AfterValidator(check_email)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
FlatObject = Annotated[dict[str, Any], AfterValidator(_flat)]
PastTime = Annotated[datetime, AfterValidator(_past)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


class RequestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class AddParticipantRequest(RequestModel):
    email: Email
    first_name: Text | None = None
    last_name: Text | None = None
    referrer: Text | None = Field(default=None, description="A referral code or the referrer's email")
    metadata: FlatObject = Field(default_factory=dict)
    ip_address: Short | None = None
    user_agent: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] | None = None
    utm_source: Text | None = None
    utm_campaign: Text | None = None
    signed_up_at: PastTime | None = Field(default=None, description="When the participant signed up, in the past")

    def given(self) -> list[str]:
        """The optional fields this request carries (camelCase), the ones a provider must have a place for."""
        return [
            to_camel(name)
            for name in type(self).model_fields
            if name != "email" and getattr(self, name) not in (None, {})
        ]


class ConvertRequest(RequestModel):
    email: Email


class RedeemRequest(RequestModel):
    email: Email
    reward_id: Text
    milestone_id: Text | None = None
    fulfill: StrictBool = Field(
        default=True,
        description="false approves the reward without fulfilling it, where the provider tells the two apart",
    )


class _ParticipantChanges(RequestModel):
    """What an update of a participant can change, but its email."""

    first_name: Text | None = None
    last_name: Text | None = None
    metadata: FlatObject | None = Field(
        default=None, description="Merged into the participant's metadata; a null value removes that key"
    )
    referrer: Text | None = Field(default=None, description="A referral code or the referrer's email")

    def given(self) -> list[str]:
        """The fields this update carries (camelCase), the ones a provider must have a place for."""
        return [
            to_camel(name) for name in type(self).model_fields if name != "email" and getattr(self, name) is not None
        ]


class UpdateParticipantRequest(_ParticipantChanges):
    """``PATCH /campaigns/{campaign}/participants/{email}``: ``email`` is the new address."""

    email: Email | None = Field(default=None, description="A new email address for the participant")

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateParticipantRequest:
        if self.email is None and not self.given():
            raise ValueError("send at least one of firstName, lastName, email, metadata or referrer")
        return self

    def given(self) -> list[str]:
        return (["email"] if self.email is not None else []) + super().given()


class UpdateParticipantRow(_ParticipantChanges):
    """A bulk ``updateParticipant`` row: ``email`` names the participant, ``newEmail`` is its new address."""

    email: Email
    new_email: Email | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateParticipantRow:
        if self.new_email is None and not self.given():
            raise ValueError("send at least one of firstName, lastName, newEmail, metadata or referrer")
        return self

    def update(self) -> UpdateParticipantRequest:
        """The row as the API's update of the participant ``email``."""
        return UpdateParticipantRequest.model_validate(
            {**self.model_dump(exclude={"email", "new_email"}, exclude_none=True), "email": self.new_email}
        )


class DeleteParticipantRow(RequestModel):
    """A bulk ``deleteParticipant`` row; ``contact`` also deletes the Loops contact (erasure)."""

    email: Email
    contact: StrictBool = False


class DeleteContactRow(RequestModel):
    """A bulk ``deleteContact`` row."""

    email: Email


class FlagRequest(RequestModel):
    email: Email
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ContactEvent(RequestModel):
    name: Text
    properties: FlatObject = Field(default_factory=dict)


class ContactSyncRequest(RequestModel):
    """Either a contact to upsert (``email`` and fields) or ``{campaign, email}`` to copy referral stats."""

    email: Email
    campaign: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    user_id: Text | None = None
    properties: FlatObject = Field(default_factory=dict)
    mailing_lists: dict[Annotated[str, StringConstraints(min_length=1, max_length=256)], StrictBool] = Field(
        default_factory=dict, description="Mailing lists to subscribe (true) or unsubscribe (false), by list id"
    )
    event: ContactEvent | None = None


class ImportRequest(RequestModel):
    """``POST /imports`` with JSON rows."""

    campaign: Text | None = None
    operation: Text
    rows: list[Any]


class UploadRequest(RequestModel):
    """``POST /imports/uploads``: a job whose CSV file comes through S3."""

    campaign: Text | None = None
    operation: Text


class RedriveRequest(RequestModel):
    """``POST /deadletters/redrive``: one bulk operation's dead-letter queue, or (no operation) all of them."""

    operation: Text | None = None


def field_errors(exc: PydanticValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as the SPEC's details: which field (camelCase, dotted) and why."""
    details = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "body"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "is not a field of this request"
        details.append({"field": field, "reason": reason})
    return details
