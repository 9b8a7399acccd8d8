"""DELETE /contacts/{email}: delete the Loops contact with this email; 404 when there is none."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.edge import api, handlers
from hub.flows.contacts import delete_contact

app = api.make_app()


@app.delete("/contacts/<email>")
def delete(email: str) -> Response:
    email = api.path_email(email)
    return api.write(app, "deleteContact", {"email": email}, lambda: Outcome(200, delete_contact(email).to_wire()))


lambda_handler = handlers.api(app)
