"""POST /campaigns/{campaign}/flags: flag a participant for fraud review."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.domain.requests import FlagRequest
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.post("/campaigns/<campaign>/flags")
def flag(campaign: str) -> Response:
    request = api.parse_body(app, FlagRequest)
    program = program_for(campaign)
    return api.write(
        app,
        "flag",
        request,
        lambda: Outcome(200, program.flag(request.email, request.reason).to_wire()),
        scope=campaign,
    )


lambda_handler = handlers.api(app)
