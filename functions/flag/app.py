"""POST /campaigns/{campaign}/flags: flag a participant for fraud review."""

from aws_lambda_powertools.event_handler import Response

from hub import api
from hub.idempotency import Outcome
from hub.programs import program_for
from hub.schemas import FlagRequest

app = api.make_app()


@app.post("/campaigns/<campaign>/flags")
def flag(campaign: str) -> Response:
    request = api.parse_body(app, FlagRequest)
    program = program_for(campaign)
    return api.write(
        app, "flag", request, lambda: Outcome(200, program.flag(request.email, request.reason)), scope=campaign
    )


lambda_handler = api.entrypoint(app)
