"""GET /campaigns/{campaign}/referrals: the campaign's referrals, paged (?limit=, ?cursor=, ?status=)."""

from aws_lambda_powertools.event_handler import Response

from hub.domain.models import ReferralStatus
from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.get("/campaigns/<campaign>/referrals")
def campaign_referrals(campaign: str) -> Response:
    limit = api.query_int(app, "limit", default=20, minimum=1, maximum=100)
    cursor = api.query_cursor(app)
    status = api.query_enum(app, "status", ReferralStatus)
    page = program_for(campaign).campaign_referrals(cursor, limit, status)
    return api.json_response(200, page.to_wire())


lambda_handler = handlers.api(app)
