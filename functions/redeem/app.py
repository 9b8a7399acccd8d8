"""POST /campaigns/{campaign}/redemptions: redeem a participant's reward, once."""

from aws_lambda_powertools.event_handler import Response

from hub import api
from hub.idempotency import Outcome
from hub.programs import program_for
from hub.schemas import RedeemRequest

app = api.make_app()


@app.post("/campaigns/<campaign>/redemptions")
def redeem(campaign: str) -> Response:
    request = api.parse_body(app, RedeemRequest)
    program = program_for(campaign)
    return api.write(
        app,
        "redeem",
        request,
        lambda: Outcome(200, program.redeem(request.email, request.reward_id, request.milestone_id)),
        scope=campaign,
        natural_key=(request.email, request.reward_id),
    )


lambda_handler = api.entrypoint(app)
