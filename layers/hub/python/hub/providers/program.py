"""A campaign's referral operations, the same whatever the provider.

:class:`ReferralProgram` is the hub's operation set; each provider's module (``viral_loops``,
``growsurf``, ``sparkloop``) implements what its API can do, and everything else answers
:class:`Unsupported` (501). :func:`program_for` builds the program of a named campaign and imports
only that provider's module, so a function never loads clients it does not use.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from typing import Any

from hub.domain import operations
from hub.domain.errors import ConfigurationError, ParticipantNotFound, Unsupported, ValidationError
from hub.domain.models import (
    Campaign,
    Conversion,
    Flagged,
    Page,
    Participant,
    Provider,
    Redemption,
    Referral,
    ReferralStatus,
    Reward,
    RewardRemoval,
    RewardStatus,
)
from hub.domain.providers import PROVIDERS
from hub.domain.requests import AddParticipantRequest, UpdateParticipantRequest
from hub.providers.http import RetryPolicy
from hub.providers.ratelimit.local import RateLimiter
from hub.providers.ratelimit.shared import shared_limiter_for
from hub.settings.config import CampaignConfig, HubConfig, RuntimeSettings, load_config, resolve_key

#: Each provider's name as people read it (:mod:`hub.domain.providers`).
PROVIDER_NAMES = {provider: info.name for provider, info in PROVIDERS.items()}


class ReferralProgram:
    """The hub's operations on one campaign. Subclasses override what their provider supports."""

    provider: Provider
    #: The optional add-participant fields (camelCase) the provider's add call has a place for. Any
    #: other field a request carries is refused with 422 naming it and the provider, never dropped.
    add_fields: frozenset[str] = frozenset()

    def __init__(self, campaign: str, config: CampaignConfig, client: Any):
        self.campaign = campaign
        self.config = config
        self.client = client

    def unsupported(self, method: str) -> Unsupported:
        """501 for the operation ``method`` runs, named as the registry names it."""
        return Unsupported(PROVIDER_NAMES[self.provider], operations.of_program_method(method).name)

    @classmethod
    def supports(cls, operation: str) -> bool:
        """Whether the provider has ``operation`` (a method name such as ``convert``)."""
        return getattr(cls, operation) is not getattr(ReferralProgram, operation)

    #: The fields (camelCase) of an update (:class:`UpdateParticipantRequest`) the provider's update
    #: call has a place for; any other is refused with 422 naming it, as for an add.
    update_fields: frozenset[str] = frozenset()

    def refuse_unplaced(
        self, request: AddParticipantRequest | UpdateParticipantRequest, places: frozenset[str] | None = None
    ) -> None:
        """:class:`ValidationError` naming each field of ``request`` the provider has no place for
        (``places``: the fields it has, by default :attr:`add_fields`)."""
        places = self.add_fields if places is None else places
        unplaced = [name for name in request.given() if name not in places]
        if unplaced:
            provider = PROVIDER_NAMES[self.provider]
            raise ValidationError(
                f"{provider} has no place for {', '.join(unplaced)}: send the request without it",
                details=[{"field": name, "reason": f"{provider} has no place for this field"} for name in unplaced],
            )

    def referral_code_of(self, referrer: str) -> str:
        """A referrer given as a referral code or an email, as the referral code the provider takes."""
        if "@" not in referrer:
            return referrer
        code = self.referral_code_by_email(referrer)
        if not code:
            raise ValidationError(
                "the referrer is not a participant of this campaign",
                details=[{"field": "referrer", "reason": f"no participant with email {referrer}"}],
            )
        return code

    def referral_code_by_email(self, email: str) -> str | None:
        """The referral code of the participant ``email``, or None when there is none."""
        try:
            return self.get_participant(email).referral_code
        except ParticipantNotFound:
            return None

    #: Whether a NotFound from :meth:`probe` says the key knows no such campaign (False where the
    #: probe's own read answers 404 for what it asks about, as Viral Loops' does).
    probe_not_found_is_campaign: bool = True

    def probe(self) -> str:
        """The provider's cheapest authenticated read of the campaign, for the doctor: it passes when the
        key and the campaign id are accepted; returns a detail worth showing (or "")."""
        raise ConfigurationError(f"the doctor has no check for provider '{self.provider.value}'")

    def add_participant(self, request: AddParticipantRequest) -> tuple[Participant, bool]:
        """Add a participant; an existing email gives the existing participant and ``False``.

        Implementations call :meth:`refuse_unplaced` first, before any provider call."""
        raise self.unsupported("add_participant")

    def get_participant(self, email: str) -> Participant:
        raise self.unsupported("get_participant")

    def convert(self, email: str) -> Conversion:
        """Credit the referrer of the referred participant ``email``."""
        raise self.unsupported("convert")

    def redeem(self, email: str, reward_id: str, milestone_id: str | None, *, fulfill: bool = True) -> Redemption:
        """Redeem the reward; ``fulfill=False`` approves it without fulfilling it, where the provider
        tells the two apart (elsewhere :meth:`refuse_approval` refuses it, naming ``fulfill``)."""
        raise self.unsupported("redeem")

    def refuse_approval(self) -> ValidationError:
        """422 for ``fulfill: false`` at a provider whose redeem does not tell approving from fulfilling."""
        provider = PROVIDER_NAMES[self.provider]
        return ValidationError(
            f"{provider} does not approve a reward without fulfilling it: send fulfill true or leave it out",
            details=[{"field": "fulfill", "reason": f"{provider} has no approval apart from redeeming"}],
        )

    def update_participant(self, email: str, update: UpdateParticipantRequest) -> Participant:
        """Change the participant ``email`` (:class:`ParticipantNotFound` if none) and answer it as it
        is now. Implementations call :meth:`refuse_unplaced` with :attr:`update_fields` first."""
        raise self.unsupported("update_participant")

    def delete_participant(self, email: str) -> None:
        """Remove the participant ``email`` at the provider; :class:`ParticipantNotFound` if there is none
        (a second delete of the same email is a 404, and reaches no one else)."""
        raise self.unsupported("delete_participant")

    def remove_reward(self, email: str, reward_id: str) -> RewardRemoval:
        """Remove the participant's reward ``reward_id`` while it is not yet approved."""
        raise self.unsupported("remove_reward")

    def campaign_details(self) -> Campaign:
        """The campaign as the provider describes it, with its reward catalog."""
        raise self.unsupported("campaign_details")

    def participants_page(self, cursor: str | None, limit: int) -> Page[Participant]:
        """One page of the campaign's participants: at most ``limit``, from ``cursor`` (a previous
        page's ``next_cursor``; None: the first page)."""
        raise self.unsupported("participants_page")

    def campaign_referrals(self, cursor: str | None, limit: int, status: ReferralStatus | None) -> Page[Referral]:
        """One page of the campaign's referrals, of ``status`` only when given."""
        raise self.unsupported("campaign_referrals")

    def flag(self, email: str, reason: str) -> Flagged:
        raise self.unsupported("flag")

    def referrals(self, email: str) -> list[Referral]:
        raise self.unsupported("referrals")

    def rewards(self, email: str, status: RewardStatus | None) -> list[Reward]:
        raise self.unsupported("rewards")

    def leaderboard(self, cursor: str | None, limit: int) -> Page[Participant]:
        raise self.unsupported("leaderboard")

    def participants(self) -> Iterator[Participant]:
        """Every participant of the campaign, read page after page (the scheduled stats sync)."""
        raise self.unsupported("participants")

    def pending_rewards(self) -> Iterator[tuple[Participant, Reward]]:
        """Every reward of the campaign earned and not yet redeemed (pending or approved), with its
        participant (the scheduled pending-rewards task)."""
        raise self.unsupported("pending_rewards")


_programs: dict[str, tuple[str, ReferralProgram]] = {}
_lock = threading.Lock()


def limiter_for(provider: Provider, config: HubConfig) -> RateLimiter:
    """The limiter every campaign of ``provider`` shares: in DynamoDB across all Lambdas when the
    stack has its throttle table (``THROTTLE_TABLE``), else in this process."""
    return shared_limiter_for(provider.value, config.rate(provider))


def retry_policy() -> RetryPolicy:
    settings = RuntimeSettings.from_env()
    return RetryPolicy(attempts=settings.attempts, read_timeout=settings.read_timeout, budget=settings.budget)


def program_type(campaign: str) -> type[ReferralProgram]:
    """The program class of the campaign named ``campaign`` (:class:`CampaignNotFound` if none): what
    its provider supports, known without reading the campaign's key or calling the provider."""
    provider = load_config().campaign(campaign).provider
    module = importlib.import_module(f"hub.providers.{provider.value}.program")
    return next(
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ReferralProgram) and value.__module__ == module.__name__
    )


def program_for(campaign: str) -> ReferralProgram:
    """The program of the campaign named ``campaign`` (:class:`CampaignNotFound` if none).

    Programs are kept across warm invocations (one HTTP session each) and rebuilt when the
    campaign's key changes, so a rotated key is picked up as soon as the parameter cache expires.
    """
    config = load_config()
    campaign_config = config.campaign(campaign)
    key = resolve_key(campaign_config.key)
    with _lock:
        cached = _programs.get(campaign)
        if cached is not None and cached[0] == key:
            return cached[1]
    module = importlib.import_module(f"hub.providers.{campaign_config.provider.value}.program")
    program: ReferralProgram = module.build(
        campaign,
        campaign_config,
        key=key,
        limiter=limiter_for(campaign_config.provider, config),
        policy=retry_policy(),
    )
    with _lock:
        _programs[campaign] = (key, program)
    return program
