"""GET /campaigns/{campaign}/participants/{email}: the participant, normalized."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.get("/campaigns/<campaign>/participants/<email>")
def get_participant(campaign: str, email: str) -> Response:
    email = api.path_email(email)
    return api.json_response(200, program_for(campaign).get_participant(email).to_wire())


lambda_handler = handlers.api(app)
