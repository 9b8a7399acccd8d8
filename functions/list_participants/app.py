"""GET /campaigns/{campaign}/participants: the campaign's participants, paged (?limit=, ?cursor=)."""

from aws_lambda_powertools.event_handler import Response

from hub.edge import api, handlers
from hub.providers.program import program_for

app = api.make_app()


@app.get("/campaigns/<campaign>/participants")
def list_participants(campaign: str) -> Response:
    limit = api.query_int(app, "limit", default=20, minimum=1, maximum=100)
    cursor = api.query_cursor(app)
    page = program_for(campaign).participants_page(cursor, limit)
    return api.json_response(200, page.to_wire())


lambda_handler = handlers.api(app)
