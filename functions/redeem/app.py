"""POST /campaigns/{campaign}/redemptions: redeem a participant's reward, once."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.domain.requests import RedeemRequest
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.post("/campaigns/<campaign>/redemptions")
def redeem(campaign: str) -> Response:
    request = api.parse_body(app, RedeemRequest)
    program = program_for(campaign)
    return api.write(
        app,
        "redeem",
        request,
        lambda: Outcome(
            200,
            program.redeem(request.email, request.reward_id, request.milestone_id, fulfill=request.fulfill).to_wire(),
        ),
        scope=campaign,
    )


lambda_handler = handlers.api(app)
