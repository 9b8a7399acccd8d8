"""GET /contacts/{email}: the Loops contact with this email; 404 when there is none."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.flows.contacts import get_contact

app = api.make_app()


@app.get("/contacts/<email>")
def contact(email: str) -> Response:
    return api.json_response(200, get_contact(api.path_email(email)).to_wire())


lambda_handler = handlers.api(app)
