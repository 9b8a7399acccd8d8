"""GET /campaigns/{campaign}: the campaign as its provider describes it, with its reward catalog."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.get("/campaigns/<campaign>")
def get_campaign(campaign: str) -> Response:
    return api.json_response(200, program_for(campaign).campaign_details().to_wire())


lambda_handler = handlers.api(app)
