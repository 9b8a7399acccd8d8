"""GET /imports/{jobId}: a bulk import's progress and its failed rows (?cursor= pages them)."""

from aws_lambda_powertools.event_handler import Response

from hub.aws.jobs import JobStore
from hub.edge import api, handlers

app = api.make_app()
jobs = JobStore()


@app.get("/imports/<job_id>")
def get_import(job_id: str) -> Response:
    cursor = app.current_event.get_query_string_value("cursor")
    if cursor is not None and not cursor.isdigit():
        raise api.ValidationError(
            "the query parameter 'cursor' is invalid", details=[{"field": "cursor", "reason": "must be a row number"}]
        )
    return api.json_response(200, jobs.get(job_id, cursor=cursor).to_wire())


lambda_handler = handlers.api(app)
