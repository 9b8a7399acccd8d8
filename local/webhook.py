"""Trigger a provider webhook on demand: sign a delivery the way its provider does and post it to the hub.

    python -m local.webhook growsurf events/api_webhook_growsurf_goal.json --campaign demo-growsurf

The file is either the provider's JSON payload or a sample API Gateway event from ``events/`` (its body is
taken). The delivery is signed with the campaign's webhook secret: ``--secret`` when given, else the
campaign's ``webhook_secret`` in the configuration named by ``HUB_CONFIG``, else the local run's demo
secret for the demo campaigns (:data:`DEMO_WEBHOOK_SECRETS`). GrowSurf deliveries get a fresh
``GrowSurf-Signature`` (``--age`` makes it older, to see a stale one refused), SparkLoop ones the
``SparkLoop-Token`` header, Viral Loops ones the ``?token=`` query parameter.

Posting the same file twice shows the deduplication: the second answer lists the events as duplicates.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]

#: The webhook secrets of the local run's demo campaigns (sandbox only, like the sandboxes' keys).
DEMO_WEBHOOK_SECRETS = {
    "demo-growsurf": "demo-growsurf-webhook-secret",
    "demo-viral-loops": "demo-viral-loops-webhook-token",
    "demo-sparkloop": "demo-sparkloop-webhook-token",
}
PROVIDERS = ("growsurf", "viral_loops", "sparkloop")


def growsurf_signature_header(secret: str, body: bytes, ts_ms: int) -> str:
    """``GrowSurf-Signature`` as GrowSurf sends it: ``ts=<ms>,v=<hex HMAC-SHA256 of "<ts>.<body>">``."""
    digest = hmac.new(secret.encode("utf-8"), f"{ts_ms}.".encode() + body, hashlib.sha256).hexdigest()
    return f"ts={ts_ms},v={digest}"


def signed(
    provider: str, body: bytes, secret: str, *, now: float | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query parameters that prove a delivery of ``provider`` with ``secret``."""
    headers = {"Content-Type": "application/json"}
    if provider == "growsurf":
        ts_ms = int((time.time() if now is None else now) * 1000)
        return {**headers, "GrowSurf-Signature": growsurf_signature_header(secret, body, ts_ms)}, {}
    if provider == "sparkloop":
        return {**headers, "SparkLoop-Token": secret}, {}
    if provider == "viral_loops":
        return headers, {"token": secret}
    raise ValueError(f"no webhook for provider '{provider}': one of {', '.join(PROVIDERS)}")


def with_webhook_secrets(config_text: str, secrets: dict[str, str]) -> str:
    """A configuration document with ``webhook_secret = { value = ... }`` added to each campaign of
    ``secrets`` that has none yet (so it can be applied to any configuration, once or twice)."""
    campaigns = tomllib.loads(config_text).get("campaigns", {})
    lines = []
    for line in config_text.splitlines():
        lines.append(line)
        header = line.strip()
        if header.startswith("[campaigns.") and header.endswith("]"):
            name = header[len("[campaigns.") : -1].strip().strip('"')
            if name in secrets and "webhook_secret" not in campaigns.get(name, {}):
                lines.append(f"webhook_secret = {{ value = {json.dumps(secrets[name])} }}")
    return "\n".join(lines) + "\n"


def refresh_signature(event: dict[str, Any], secret: str, *, now: float | None = None) -> dict[str, Any]:
    """A sample API Gateway event whose ``GrowSurf-Signature`` was made with ``secret``, signed again
    for now, so that it verifies whenever it is used. A sample signed with another secret (a wrong
    signature on purpose) is left as it is."""
    headers = dict(event.get("headers") or {})
    name = next((key for key in headers if key.lower() == "growsurf-signature"), None)
    if name is None:
        return event
    body = (event.get("body") or "").encode("utf-8")
    if not _signed_with(secret, body, str(headers[name])):
        return event
    headers[name] = growsurf_signature_header(secret, body, int((time.time() if now is None else now) * 1000))
    multi = _with_single_value(event.get("multiValueHeaders"), name, headers[name])
    return {**event, "headers": headers, "multiValueHeaders": multi}


def _signed_with(secret: str, body: bytes, header: str) -> bool:
    """Whether a ``GrowSurf-Signature`` value is the signature of ``body`` with ``secret``."""
    parts = dict(part.strip().partition("=")[::2] for part in header.split(","))
    ts = parts.get("ts", "")
    if not ts.isdigit():
        return False
    return growsurf_signature_header(secret, body, int(ts)) == f"ts={ts},v={parts.get('v', '')}"


def _with_single_value(multi_value_headers: Any, name: str, value: str) -> Any:
    """``multiValueHeaders`` with the header ``name``, when it has it, set to ``value`` alone."""
    multi = dict(multi_value_headers or {})
    if name in multi:
        multi[name] = [value]
    return multi or multi_value_headers


def configured_secret(campaign: str) -> str | None:
    """The campaign's webhook secret from the configuration named by ``HUB_CONFIG``, if any."""
    path = os.environ.get("HUB_CONFIG")
    if not path:
        return None
    sys.path[:0] = [str(ROOT / "layers/hub/python")]
    from hub.domain.errors import HubError
    from hub.settings.config import load_config, resolve_key

    try:
        ref = load_config().campaign(campaign).webhook_secret
        return resolve_key(ref) if ref is not None else None
    except HubError as exc:
        raise SystemExit(f"cannot read the webhook secret of '{campaign}': {exc.message}") from None


def read_delivery(path: Path) -> tuple[bytes, str | None]:
    """The body to post, and the campaign the sample names, from a payload or a sample API event."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    if isinstance(data, dict) and "httpMethod" in data and "body" in data:
        query = data.get("queryStringParameters") or {}
        return str(data["body"] or "").encode("utf-8"), query.get("campaign")
    return text.encode("utf-8"), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.webhook", description=__doc__.split("\n\n")[0])
    parser.add_argument("provider", choices=PROVIDERS)
    parser.add_argument("file", type=Path, help="the provider's JSON payload, or a sample API event from events/")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('HUB_PORT', '3000')}")
    parser.add_argument("--campaign", help="the campaign (default: the one the sample names)")
    parser.add_argument("--secret", help="the webhook secret (default: from HUB_CONFIG, else the demo one)")
    parser.add_argument("--age", type=float, default=0.0, help="sign as if this many seconds ago (GrowSurf)")
    args = parser.parse_args(argv)
    body, sample_campaign = read_delivery(args.file)
    campaign = args.campaign or sample_campaign
    secret = args.secret or (configured_secret(campaign) if campaign else None)
    if secret is None and campaign in DEMO_WEBHOOK_SECRETS and not os.environ.get("HUB_CONFIG"):
        secret = DEMO_WEBHOOK_SECRETS[campaign]
    if secret is None:
        parser.error("no webhook secret: give --secret, or --campaign naming a campaign with a webhook_secret")
    headers, query = signed(args.provider, body, secret, now=time.time() - args.age)
    if campaign:
        query["campaign"] = campaign
    answer = requests.post(
        f"{args.url.rstrip('/')}/webhooks/{args.provider}", data=body, headers=headers, params=query, timeout=30
    )
    print(answer.status_code)
    print(answer.text)
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main())
