"""GET /campaigns/{campaign}/participants/{email}/referrals: who a participant referred, with status."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.get("/campaigns/<campaign>/participants/<email>/referrals")
def referrals(campaign: str, email: str) -> Response:
    email = api.path_email(email)
    items = program_for(campaign).referrals(email)
    return api.json_response(200, {"items": [referral.to_wire() for referral in items]})


lambda_handler = handlers.api(app)
