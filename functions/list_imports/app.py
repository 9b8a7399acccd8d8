"""GET /imports: recent bulk imports, newest first, with their counts (?limit=, ?cursor= pages them)."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.jobs import JobStore
from hub.edge import api, handlers

app = api.make_app()
jobs = JobStore()


@app.get("/imports")
def list_imports() -> Response:
    limit = api.query_int(app, "limit", default=20, minimum=1, maximum=100)
    # Empty is the first page, as the document says; anything else is a previous page's nextCursor.
    cursor = api.query_cursor(app, empty_is_first=True)
    return api.json_response(200, jobs.recent(cursor=cursor, limit=limit).to_wire())


lambda_handler = handlers.api(app)
