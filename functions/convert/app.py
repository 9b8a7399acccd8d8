"""POST /campaigns/{campaign}/conversions: credit the referrer of a referred participant, once."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.domain.requests import ConvertRequest
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.post("/campaigns/<campaign>/conversions")
def convert(campaign: str) -> Response:
    request = api.parse_body(app, ConvertRequest)
    program = program_for(campaign)
    return api.write(
        app,
        "convert",
        request,
        lambda: Outcome(200, program.convert(request.email).to_wire()),
        scope=campaign,
    )


lambda_handler = handlers.api(app)
