"""GET /campaigns/{campaign}/participants/{email}/rewards: a participant's rewards; ?status= filters."""

from aws_lambda_powertools.event_handler import Response

from hub.domain.models import RewardStatus
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.get("/campaigns/<campaign>/participants/<email>/rewards")
def rewards(campaign: str, email: str) -> Response:
    email = api.path_email(email)
    status = api.query_enum(app, "status", RewardStatus)
    items = program_for(campaign).rewards(email, status)
    return api.json_response(200, {"items": [reward.to_wire() for reward in items]})


lambda_handler = handlers.api(app)
