"""GET /imports: recent bulk imports, newest first, with their counts (?limit=, ?cursor= pages them)."""

from aws_lambda_powertools.event_handler import Response

from hub import api
from hub.jobs import JobStore

app = api.make_app()
jobs = JobStore()


@app.get("/imports")
def list_imports() -> Response:
    limit = api.query_int(app, "limit", default=20, minimum=1, maximum=100)
    cursor = app.current_event.get_query_string_value("cursor")
    return api.json_response(200, jobs.recent(cursor=cursor, limit=limit).to_wire())


lambda_handler = api.entrypoint(app)
