"""S3 ObjectCreated on uploads/: stream the uploaded CSV row by row into its operation's queue."""

from typing import Any

from hub.aws import uploads
from hub.aws.jobs import JobStore
from hub.edge import handlers
from hub.flows import imports

jobs = JobStore()


def split(bucket: str, key: str, job_id: str) -> dict[str, Any]:
    # The object is read only by the split that holds the job's lease (a repeated event reads nothing).
    return imports.split_upload(jobs, job_id, lambda: uploads.object_body(bucket, key))


lambda_handler = handlers.uploads(split)
