"""POST /webhooks/{provider}: a provider's webhook delivery (no API key: its signature or token proves
it), verified, normalized and queued as Loops contact syncs and events; see ``hub.flows.webhooks``."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.flows.webhooks import WebhookIngress

app = api.make_app()
ingress = WebhookIngress()


@app.post("/webhooks/<provider>")
def receive(provider: str) -> Response:
    event = app.current_event
    answer = ingress.receive_proxy(
        provider, event.body, bool(event.is_base64_encoded), event.headers, event.query_string_parameters
    )
    return api.json_response(answer.status, answer.body, answer.headers)


lambda_handler = handlers.api(app)
