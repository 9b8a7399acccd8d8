"""S3 ObjectCreated on uploads/: stream the uploaded CSV row by row into its operation's queue."""

from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from hub.aws.jobs import JobStore
from hub.flows import imports

logger = Logger()
metrics = Metrics()
tracer = Tracer()
jobs = JobStore()
s3 = boto3.client("s3")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    split = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        job_id = imports.job_of_upload(key)
        if job_id is None:
            logger.warning("not an upload of an import job; ignored", extra={"key": key})
            continue
        logger.append_keys(jobId=job_id)
        split.append(imports.split_upload(jobs, job_id, s3.get_object(Bucket=bucket, Key=key)["Body"]))
    return {"jobs": split}
