"""Provider webhooks in: verified, normalized, deduplicated, and queued as Loops contact syncs.

``POST /webhooks/{provider}`` takes no API key (a provider cannot send it); each delivery proves itself
instead, with the campaign's ``webhook_secret`` (a key reference in the configuration, resolved like the
provider keys). A delivery that does not verify is answered 401 ``UNAUTHORIZED`` and nothing happens; a
provider none of whose campaigns has a secret refuses every delivery. The route answers strangers, so
every refusal is the same (one fixed message, no details: nothing says which check failed, which
campaigns exist, or anything of a secret) and the cause is logged instead; a secret that cannot be read
is 503 without naming it; nothing a caller sends before it is verified can make the hub answer 500
(:mod:`hub.flows.deliveries.verification`).

- GrowSurf signs: ``GrowSurf-Signature: ts=<ms>,v=<hex>`` where ``v`` is HMAC-SHA256(secret,
  ``<ts>.<raw body>``); ``ts`` must be within :data:`SIGNATURE_TOLERANCE_SECONDS` of now, so a captured
  delivery cannot be replayed later.
- SparkLoop sends its static authentication token in the ``SparkLoop-Token`` header.
- Viral Loops signs nothing: the URL the operator registers carries the secret as ``?token=``.

Every comparison is constant-time (:func:`hmac.compare_digest`).

What the emails show is the provider's word, never the payload's alone. GrowSurf's deliveries are
signed over their body, so a verified GrowSurf payload is GrowSurf's own (a goal showing no approval
still has its reward's state read back). SparkLoop's and Viral Loops' prove themselves with a static
token only, so whoever holds the token could write any payload: their payloads only say whom and what
to look at, and the contact sync and Loops event are built from the participant (and referrer, reward)
read back from the provider through the campaign's program (:mod:`hub.flows.deliveries.sparkloop`,
:mod:`hub.flows.deliveries.viral_loops`). A payload the provider does not bear out (no such participant,
another referrer, no such reward) is answered 200 with ``ignored`` saying why, logged and counted
(``WebhookEventsUnconfirmed``), and nothing is sent; a provider that cannot answer fails the delivery
(503), so the provider delivers it again.

Which campaign a delivery is for: the ``campaign`` query parameter of the registered URL when it has
one; else the campaign whose ``campaign_id`` the payload names (GrowSurf ``data.campaign.id``, or
``data.id`` for ``CAMPAIGN_ENDED``; SparkLoop ``campaign_id``); else, as for Viral Loops (whose payloads
name no campaign), the campaign of that provider whose secret verifies the delivery. A verified
delivery naming another campaign than the one its URL names is acknowledged and ignored.

Events are normalized into five kinds (:class:`EventKind`), each about one contact; the value of a kind
is the name of the Loops event sent for it. The fields relied on, per provider:

- GrowSurf (documented samples): ``event`` and ``createdAt``; ``NEW_PARTICIPANT_ADDED``: ``data`` is the
  participant (``id``, ``email``, names, ``shareUrl``, ``referralCount``, ``rank``, ``referrer``);
  ``PARTICIPANT_REACHED_A_GOAL``: ``data.participant`` (with ``referee`` or ``referrer``) and
  ``data.reward`` (``id``, ``title``, ``approved``, ``isReferrer``, ``couponCode``): a reward earned by
  the participant, and the referral that unlocked it as converted for the referrer. Approving a reward
  emits the goal again with ``data.reward.approved`` false (document 001), so a goal showing no
  approval has its reward's state read back from GrowSurf: pending, approved, or fulfilled (the hub's
  own redeem approves with ``fulfill``), the last a reward redeemed; each state is one event;
  ``PARTICIPANT_FRAUD_STATUS_UPDATED``: ``data.participant.fraudRiskLevel`` and ``fraudReasonCode``.
  Other events (``CAMPAIGN_ENDED``, the affiliate ones) are acknowledged and ignored.
- SparkLoop (documented samples): ``type`` and ``campaign_id``; ``new_referral``: ``subscriber`` (a new
  participant) and ``referrer`` (credited at once: SparkLoop has no conversion step);
  ``reward_unlocked`` and ``reward_redeemed``: ``subscriber``, ``reward`` (``id``), ``referrals``,
  ``reward_variant_sku``. Of a subscriber only ``id`` and ``email`` are read; the rest comes from
  SparkLoop's API. Partner, lead and ``sync_subscriber`` events are acknowledged and ignored.
- Viral Loops (only ``participation`` has a published sample): ``type``, ``user`` and ``referrer``
  (of each only ``email`` is read, and ``id`` where there is one; the rest comes from Viral Loops' API).
  The hub assumes the same envelope for ``conversion`` (``user`` converted, ``referrer`` credited),
  ``milestone`` (``user`` earned ``reward``: ``id``) and ``reward_redeemed``; anything else is
  acknowledged and ignored, and every ignored event is logged with its type.

Deduplication: each normalized event runs once per key made of the provider, the campaign, the kind and
the event's identity (the providers send no delivery id; for SparkLoop and Viral Loops, whose payloads
anyone holding the token can write, it is what the provider answered when read back): a replayed
delivery, or the second copy GrowSurf sends of a double-sided goal (its conversion is the same one; the
reward of the other side is not), is answered 200 without being queued again. Keys are kept for
:data:`DEDUP_WINDOW_SECONDS`, longer than GrowSurf's days of retries.

Each new event becomes one ``syncContact`` row (contact properties and a Loops event) on the syncContact
queue, under one import job per delivery; the queue's consumer upserts the contact and sends the event
with an ``Idempotency-Key``. The row is keyed by its event, not its delivery: its stable ``key`` is
``syncContact#<dedup key>`` (the idempotency key the consumer runs it under, and the Loops event's key)
and, once sent, its ``remember`` mark (the dedup key) is written in the sync state table
(:mod:`hub.aws.sync_state`), a mark the consumer checks first. So a delivery whose rows were queued but
whose answer failed (a write after the send failed, the invocation timed out), retried by the provider
under a new job, reaches Loops once per event, even past the 24 hours the idempotency record and Loops
keep a key.

The answer is 200 (SparkLoop counts any other status as a failure) with the job id, the events queued
and the duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from hub.aws import idempotency
from hub.aws.jobs import JobStore
from hub.domain.errors import (
    ConfigurationError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    QueueUnavailable,
    RateLimited,
)
from hub.domain.models import Provider
from hub.flows.deliveries.events import (
    EventKind,
    Normalized,
    WebhookEvent,
    loose_json,
    parse_payload,
)
from hub.flows.deliveries.growsurf import RewardLookup, growsurf_reward_lookup, normalize_growsurf
from hub.flows.deliveries.sparkloop import normalize_sparkloop
from hub.flows.deliveries.verification import (
    GROWSURF_HEADER,
    REFUSED_MESSAGE,
    SIGNATURE_TOLERANCE_SECONDS,
    SPARKLOOP_HEADER,
    VIRAL_LOOPS_QUERY,
    WEBHOOK_PROVIDERS,
    Delivery,
    WebhookRefused,
    WebhookUnavailable,
    campaign_for,
    growsurf_signature,
    named_campaign_id,
    provider_named,
    verify,
    verify_growsurf,
    verify_token,
)
from hub.flows.deliveries.viral_loops import normalize_viral_loops
from hub.providers.fields import as_str
from hub.providers.program import program_for
from hub.runtime import observability
from hub.settings.config import load_config

if TYPE_CHECKING:
    from hub.flows.bulk import JobRows

__all__ = [
    "DEDUP_WINDOW_SECONDS",
    "GROWSURF_HEADER",
    "REFUSED_MESSAGE",
    "SIGNATURE_TOLERANCE_SECONDS",
    "SPARKLOOP_HEADER",
    "SYNC_CONTACT",
    "VIRAL_LOOPS_QUERY",
    "WEBHOOK_PROVIDERS",
    "Answer",
    "Delivery",
    "EventKind",
    "Normalized",
    "RewardLookup",
    "WebhookEvent",
    "WebhookIngress",
    "WebhookRefused",
    "WebhookUnavailable",
    "campaign_for",
    "growsurf_reward_lookup",
    "growsurf_signature",
    "named_campaign_id",
    "normalize",
    "normalize_growsurf",
    "normalize_sparkloop",
    "normalize_viral_loops",
    "parse_payload",
    "provider_named",
    "verify",
    "verify_growsurf",
    "verify_token",
]

logger = observability.logger

#: How long an event's identity is remembered (GrowSurf retries a failed delivery for several days).
DEDUP_WINDOW_SECONDS = 7 * 24 * 3600
SYNC_CONTACT = "syncContact"
#: What a provider that cannot confirm a delivery now is answered: 503, so it delivers it again.
READ_BACK_FAILED = "the provider could not confirm the delivery now; deliver it again later"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


#: What each provider's delivery means, as the hub's events (the provider's own normalizer).
NORMALIZERS: dict[Provider, Callable[[dict[str, Any], str], Normalized]] = {
    Provider.GROWSURF: lambda payload, campaign: normalize_growsurf(
        payload, campaign, growsurf_reward_lookup(campaign)
    ),
    Provider.SPARKLOOP: lambda payload, campaign: normalize_sparkloop(payload, program_for(campaign)),
    Provider.VIRAL_LOOPS: lambda payload, campaign: normalize_viral_loops(payload, program_for(campaign)),
}


def normalize(provider: Provider, payload: dict[str, Any], campaign: str) -> Normalized:
    """The delivery's events (none for an event the hub does not act on, or one its provider does not
    confirm), read back from the provider where its payload is not signed; a payload missing what an
    event needs is a VALIDATION_ERROR naming the field. A provider that cannot answer, or whose key
    cannot be read, is 503."""
    try:
        return NORMALIZERS[provider](payload, campaign)
    except (ProviderError, ProviderTimeout, ProviderUnavailable, RateLimited) as exc:
        logger.warning(
            "webhook read-back failed",
            extra={"provider": provider.value, "campaign": campaign, "code": exc.code},
        )
        raise ProviderUnavailable(READ_BACK_FAILED) from None
    except ConfigurationError:
        # The campaign's provider key cannot be read: its message names where it lives, so it is not passed on.
        logger.warning("webhook read-back failed: the provider key is unreadable", extra={"campaign": campaign})
        raise WebhookUnavailable() from None


# -- the ingress -------------------------------------------------------------------------------------
# The queue plumbing (hub.flows.bulk, hub.flows.imports) is imported where a verified delivery is queued, so that
# verification and normalization import on their own: bulk's Powertools Metrics take their namespace
# from the environment when imported, which only a function's environment has.


def _logged(refused: WebhookRefused, provider: str) -> WebhookRefused:
    """The refusal, logged and counted: the caller is told nothing, the operator reads why here (a
    fixed reason, never a value taken from the request)."""
    logger.info("webhook refused", extra={"provider": provider, "reason": refused.reason, "why": refused.explanation})
    observability.count("WebhookDeliveriesRefused")
    return refused


def _normalized_for(provider: Provider, payload: dict[str, Any], campaign: str, named: str | None) -> Normalized:
    """The verified delivery's events; none when its payload names another campaign id than that of
    the campaign its URL (or secret) chose."""
    if named is not None and named != load_config().campaign(campaign).campaign_id:
        kind = as_str(payload.get("event")) or as_str(payload.get("type")) or ""
        return Normalized(kind, [], f"the delivery names campaign id '{named}', not that of '{campaign}'")
    return normalize(provider, payload, campaign)


def _ignored(provider: Provider, campaign: str, normalized: Normalized, body: dict[str, Any]) -> Answer:
    """The answer of a delivery with nothing to queue, logged and counted: unconfirmed by its
    provider, or not an event the hub acts on."""
    if normalized.unconfirmed:
        logger.warning(
            "webhook event unconfirmed",
            extra={
                "provider": provider.value,
                "campaign": campaign,
                "eventType": normalized.type,
                "why": normalized.ignored,
            },
        )
        observability.count("WebhookEventsUnconfirmed")
    else:
        logger.info(
            "webhook event ignored",
            extra={"provider": provider.value, "campaign": campaign, "eventType": normalized.type},
        )
        observability.count("WebhookDeliveriesIgnored")
    return Answer(200, {**body, "ignored": normalized.ignored})


def _log_received(provider: Provider, campaign: str, normalized: Normalized, body: dict[str, Any]) -> None:
    """Log and count a queued delivery: its job, the events queued and the duplicates."""
    logger.info(
        "webhook received",
        extra={
            "provider": provider.value,
            "campaign": campaign,
            "eventType": normalized.type,
            "jobId": body["jobId"],
            "queued": body["queued"],
            "duplicates": body["duplicates"],
        },
    )
    observability.count("WebhookEventsQueued", len(body["queued"]))
    observability.count("WebhookEventsDuplicated", len(body["duplicates"]))


class _DeliveryJob:
    """The import job of one delivery, made when its first event is queued; its rows are written by
    :class:`~hub.flows.bulk.JobRows`."""

    def __init__(self, jobs: JobStore, campaign: str, sqs: Any = None):
        self.jobs = jobs
        self.campaign = campaign
        self.sqs = sqs
        self.rows: JobRows | None = None

    def next_row(self) -> tuple[JobRows, int]:
        if self.rows is None:
            from hub.flows.bulk import OPERATIONS, JobRows
            from hub.flows.imports import new_job

            operation = OPERATIONS[SYNC_CONTACT]
            self.rows = JobRows(self.jobs, new_job(self.jobs, self.campaign, operation), operation, sqs=self.sqs)
        # Each event is one row, numbered in the order they are read.
        return self.rows, self.rows.read + 1

    @property
    def id(self) -> str | None:
        return self.rows.job_id if self.rows is not None else None

    def close(self) -> None:
        """Mark every row read, so the job completes once its queued rows are done."""
        if self.rows is not None:
            self.rows.settle(done=True)


class WebhookIngress:
    """Receives deliveries; one per function, its AWS clients kept across warm invocations."""

    def __init__(self, *, jobs: JobStore | None = None, sqs: Any = None):
        self._jobs = jobs
        # None: the process's shared SQS client (hub.aws.queues); a test may hand its own.
        self._sqs = sqs

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self._jobs = JobStore()
        return self._jobs

    def receive_proxy(
        self,
        provider: str,
        body: str | None,
        is_base64_encoded: bool,
        headers: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
    ) -> Answer:
        """:meth:`receive` the delivery of an API Gateway proxy event (see :meth:`Delivery.from_proxy`)."""
        try:
            delivery = Delivery.from_proxy(provider, body, is_base64_encoded, headers, query)
        except WebhookRefused as refused:
            raise _logged(refused, provider if provider in WEBHOOK_PROVIDERS else "(unknown)") from None
        return self.receive(delivery)

    def receive(self, delivery: Delivery) -> Answer:
        """Verify, normalize and queue a delivery (see the module's notes); raises the hub's errors."""
        provider = provider_named(delivery.provider)
        loose = loose_json(delivery.body)
        named = named_campaign_id(provider, loose)
        try:
            campaign = campaign_for(provider, delivery, named)
        except WebhookRefused as refused:
            raise _logged(refused, provider.value) from None
        # Read strictly only once verified: an unverified body gets a 401 whatever it holds.
        payload = loose if isinstance(loose, dict) else parse_payload(delivery.body)
        normalized = _normalized_for(provider, payload, campaign, named)
        body: dict[str, Any] = {
            "received": True,
            "campaign": campaign,
            "eventType": normalized.type,
            "jobId": None,
            "queued": [],
            "duplicates": [],
        }
        if normalized.unconfirmed or not normalized.events:
            return _ignored(provider, campaign, normalized, body)
        body["jobId"] = self._queue_events(provider, campaign, normalized.events, body)
        _log_received(provider, campaign, normalized, body)
        # Every event seen before: the answer of a replay, as the API marks one.
        headers = {"Idempotent-Replayed": "true"} if not body["queued"] else None
        return Answer(200, body, headers)

    def _queue_events(
        self, provider: Provider, campaign: str, events: list[WebhookEvent], body: dict[str, Any]
    ) -> str | None:
        """Queue each event not seen before as a row of the delivery's job, listing every event's kind
        in the answer's ``queued`` or ``duplicates``; the job's id (None when nothing was queued)."""
        job = _DeliveryJob(self.jobs, campaign, self._sqs)
        try:
            for event in events:
                key = event.dedup_key(provider, campaign)
                outcome = idempotency.run_once(
                    key,
                    {"identity": list(event.identity)},
                    partial(self._enqueue, job, campaign, event, key),
                    window=DEDUP_WINDOW_SECONDS,
                )
                body["duplicates" if outcome.replayed else "queued"].append(event.kind.value)
        finally:
            job.close()
        return job.id

    def _enqueue(self, job: _DeliveryJob, campaign: str, event: WebhookEvent, key: str) -> idempotency.Outcome:
        """Queue one event's contact sync as the next row of the delivery's job, under the event's dedup
        ``key`` (its stable key and its mark: see the module's notes). A row SQS does not take fails the
        delivery (503), so the provider retries it and the event is not lost."""
        writer, row = job.next_row()
        try:
            # Checked as the consumer will read it; the event's contact sync was validated already.
            request = writer.check(row, None, event.contact.model_dump(mode="json", by_alias=True, exclude_none=True))
            if request is not None:
                # The ingress's own record holds ``key``: the row's record (same table) needs another.
                writer.queue(row, campaign, request, key=f"{SYNC_CONTACT}#{key}", remember=key)
            queued = row not in writer.flush()
        except QueueUnavailable as exc:
            logger.exception("the contact sync could not be queued")
            writer.fail(row, exc)
            queued = False
        if not queued:
            raise QueueUnavailable("the event could not be queued; the provider may retry the delivery")
        writer.settle()
        job_id = writer.job_id
        return idempotency.Outcome(200, {"jobId": job_id, "row": row})
