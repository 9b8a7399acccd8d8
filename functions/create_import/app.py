"""POST /imports: a bulk job from JSON rows or a CSV body; POST /imports/uploads: a job whose CSV file
is uploaded to S3 (for files larger than an API request may carry)."""

import io
import json

from aws_lambda_powertools.event_handler import Response

from hub.aws.idempotency import Outcome
from hub.aws.jobs import JobStore
from hub.domain.requests import ImportRequest, UploadRequest
from hub.edge import api, handlers
from hub.flows import imports

app = api.make_app()
jobs = JobStore()


@app.post("/imports")
def create_import() -> Response:
    event = app.current_event
    # A request past what one request may carry is refused before it is read (413, naming the uploads).
    imports.check_body_size(event.decoded_body if event.is_base64_encoded else event.body)
    content_type = (event.get_header_value("Content-Type", case_sensitive=False) or "").split(";")[0].strip()
    if content_type == "text/csv":
        campaign = event.get_query_string_value("campaign")
        operation = imports.operation_of(event.get_query_string_value("operation"))
        body = event.decoded_body or ""
        fingerprint = {"campaign": campaign, "operation": operation.name, "csv": body}
        rows = imports.bounded(imports.csv_rows(io.BytesIO(body.encode("utf-8")), operation))
    else:
        # A row holding NaN or Infinity fails alone, in the job's failures, as any invalid row does.
        request = api.parse_body(app, ImportRequest, items="rows")
        campaign, operation = request.campaign, imports.operation_of(request.operation)
        fingerprint = json.loads(event.body or "{}")
        rows = imports.bounded(imports.json_rows(request.rows))
    imports.check_target(campaign, operation)
    key = api.idempotency_key(app)

    def action() -> Outcome:
        answer = imports.import_rows(jobs, campaign, operation, rows, key=key, request=fingerprint)
        return Outcome(202, answer)

    response = api.write(app, "import", fingerprint, action, scope=campaign or "")
    body = json.loads(response.body) if isinstance(response.body, str) else {}
    if "jobId" in body:
        response.headers["Location"] = f"/imports/{body['jobId']}"
    return response


@app.post("/imports/uploads")
def create_upload() -> Response:
    request = api.parse_body(app, UploadRequest)
    operation = imports.operation_of(request.operation)
    imports.check_target(request.campaign, operation)
    key = api.idempotency_key(app)

    def action() -> Outcome:
        job_id, _existing = imports.keyed_job(
            jobs, request.campaign, operation, key=key, route="importUpload", request=request.model_dump(mode="json")
        )
        return Outcome(201, {"jobId": job_id, **imports.upload_url(job_id)})

    return api.write(app, "importUpload", request, action, scope=request.campaign or "")


lambda_handler = handlers.api(app)
