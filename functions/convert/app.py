"""POST /campaigns/{campaign}/conversions: credit the referrer of a referred participant, once."""

from aws_lambda_powertools.event_handler import Response

from hub import api
from hub.idempotency import Outcome
from hub.programs import program_for
from hub.schemas import ConvertRequest

app = api.make_app()


@app.post("/campaigns/<campaign>/conversions")
def convert(campaign: str) -> Response:
    request = api.parse_body(app, ConvertRequest)
    program = program_for(campaign)
    return api.write(
        app,
        "convert",
        request,
        lambda: Outcome(200, program.convert(request.email)),
        scope=campaign,
        natural_key=(request.email,),
    )


lambda_handler = api.entrypoint(app)
