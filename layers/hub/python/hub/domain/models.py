"""The hub's normalized models: what every provider's answer is turned into.

Field names are snake_case in Python and camelCase on the wire (SPEC: "bodies and responses are JSON
in camelCase"); ``model_dump(by_alias=True)`` gives the wire shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class HubModel(BaseModel):
    """Base of the hub's models: camelCase aliases, construction by either name."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready camelCase shape the API answers with."""
        return self.model_dump(mode="json", by_alias=True)


class Provider(StrEnum):
    VIRAL_LOOPS = "viral_loops"
    GROWSURF = "growsurf"
    SPARKLOOP = "sparkloop"
    LOOPS = "loops"


class ReferrerRef(HubModel):
    """Who referred a participant, as far as the provider tells."""

    email: str | None = None
    referral_code: str | None = None


class Participant(HubModel):
    """A participant of a referral campaign, the same shape whatever the provider."""

    id: str | None = None
    email: str
    first_name: str | None = None
    last_name: str | None = None
    referral_code: str | None = None
    share_url: str | None = None
    referral_count: int = 0
    rank: int | None = None
    referrer: ReferrerRef | None = None
    flagged: bool = False
    created_at: datetime | None = None
    campaign: str
    provider: Provider
    provider_data: dict[str, Any] = Field(default_factory=dict)


class ReferralStatus(StrEnum):
    """Where a referred friend stands: signed up, credited to the referrer, expired or only invited."""

    PENDING = "pending"
    CONVERTED = "converted"
    EXPIRED = "expired"
    INVITED = "invited"


class Referral(HubModel):
    """A friend a participant brought in."""

    id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    status: ReferralStatus
    created_at: datetime | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict)


class RewardStatus(StrEnum):
    """``pending``: earned, waiting for approval or delivery; ``approved``: ready to deliver;
    ``redeemed``: delivered (GrowSurf's FULFILLED, Viral Loops' isRedeemed)."""

    PENDING = "pending"
    APPROVED = "approved"
    REDEEMED = "redeemed"


class Reward(HubModel):
    """A reward a participant earned."""

    id: str
    reward_id: str | None = None
    milestone_id: str | None = None
    status: RewardStatus
    description: str | None = None
    created_at: datetime | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict)


class AddedParticipant(Participant):
    """The answer of an add participant: the participant, and whether this call created it."""

    created: bool

    @classmethod
    def of(cls, participant: Participant, created: bool) -> AddedParticipant:
        return cls.model_validate({**participant.model_dump(), "created": created})


class Conversion(HubModel):
    """What a convert did, the same keys whatever the provider (null where a provider does not tell):
    ``credited`` is true only when the referrer was credited, as read back where the provider's own
    answer does not say; ``referralStatus`` and ``reason`` are GrowSurf's (``CREDIT_EXPIRED``...)."""

    campaign: str
    email: str
    converted: bool
    credited: bool
    referral_status: str | None = None
    reason: str | None = None
    referrer: ReferrerRef | None = None
    reward_triggered: bool | None = None


class Redemption(HubModel):
    """A reward redeemed: which one, and its state now."""

    campaign: str
    email: str
    reward_id: str
    milestone_id: str | None = None
    status: RewardStatus


class Flagged(HubModel):
    """A participant flagged for fraud review."""

    campaign: str
    email: str
    flagged: bool
    reason: str


class RewardRemoval(HubModel):
    """A participant's reward removed before it was approved."""

    campaign: str
    email: str
    reward_id: str
    removed: bool


class Deletion(HubModel):
    """What a delete of a participant did, where: ``deleted`` at the referral provider, and
    ``contactDeleted`` in Loops (null when the contact was not asked for; false when Loops had none)."""

    campaign: str
    email: str
    deleted: bool
    contact_deleted: bool | None = None


class ContactDeletion(HubModel):
    """A Loops contact deleted."""

    email: str
    deleted: bool


class CatalogReward(HubModel):
    """A reward of a campaign's catalog: what a participant can earn, and for how many conversions."""

    id: str
    description: str | None = None
    type: str | None = None
    conversions_required: int | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict)


class Campaign(HubModel):
    """A campaign as its provider describes it (``GET /campaigns/{campaign}``); ``campaign`` is the
    hub's name for it, ``name`` the provider's."""

    campaign: str
    provider: Provider
    name: str | None = None
    status: str | None = None
    participant_count: int | None = None
    referral_count: int | None = None
    rewards: list[CatalogReward] = Field(default_factory=list)
    provider_data: dict[str, Any] = Field(default_factory=dict)


class CampaignSummary(HubModel):
    """A configured campaign (``GET /campaigns``): its name, its provider and the operations it supports."""

    name: str
    provider: Provider
    operations: list[str]


class ItemsOfCampaign(HubModel):
    """The configured campaigns."""

    items: list[CampaignSummary]


class ItemsOfReferral(HubModel):
    """The referrals of a participant (``GET .../referrals``)."""

    items: list[Referral]


class ItemsOfReward(HubModel):
    """The rewards of a participant (``GET .../rewards``)."""

    items: list[Reward]


T = TypeVar("T")


class Page(HubModel, Generic[T]):
    """One page of a paged list; ``next_cursor`` is opaque and None on the last page."""

    items: list[T]
    next_cursor: str | None = None


class Contact(HubModel):
    """A contact in the email platform (Loops)."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    user_id: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict)


class Event(HubModel):
    """An event sent to the email platform about a contact."""

    name: str
    email: str
    properties: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """At most ``requests`` calls in any ``per_seconds`` seconds."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class Rate:
    """A provider's limit: ``requests`` calls per ``per_seconds`` seconds (its first window), every
    window of ``more`` besides (GrowSurf: 200 per 60 s and 10,000 per 3,600 s beside 30 per 5 s), and
    at most ``concurrency`` calls at once (0: unbounded)."""

    requests: int
    per_seconds: float
    concurrency: int = 0
    more: tuple[Window, ...] = ()

    @property
    def windows(self) -> tuple[Window, ...]:
        """Every window of the limit, the first one first."""
        return (Window(self.requests, self.per_seconds), *self.more)

    @property
    def per_second(self) -> float:
        """The steady rate every window allows: the slowest window's."""
        return min(window.requests / window.per_seconds for window in self.windows)
