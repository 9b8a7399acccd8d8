"""POST /contacts/sync: upsert a contact in Loops (and send an event), or copy referral stats onto it."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.domain.requests import ContactSyncRequest
from hub.edge import api, handlers
from hub.flows.contacts import sync_contact

app = api.make_app()


@app.post("/contacts/sync")
def sync() -> Response:
    request = api.parse_body(app, ContactSyncRequest)
    key = api.idempotency_key(app)
    return api.write(
        app,
        "syncContact",
        request,
        lambda: Outcome(200, sync_contact(request, idempotency_key=key)),
    )


lambda_handler = handlers.api(app)
