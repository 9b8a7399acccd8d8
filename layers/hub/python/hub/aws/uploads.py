"""Files uploaded to S3 for the imports: the presigned URL a client PUTs a file to, and reading it back."""

from __future__ import annotations

from hub.aws import clients
from hub.domain.csv_rows import ByteStream


def presigned_put_url(bucket: str, key: str, *, content_type: str, expires_in: int) -> str:
    """A URL that lets whoever holds it PUT one object of ``content_type`` at ``key`` for ``expires_in``
    seconds, signed with the function's own credentials (no call to S3 is made)."""
    url: str = clients.client("s3").generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=expires_in,
    )
    return url


def object_body(bucket: str, key: str) -> ByteStream:
    """The body of an uploaded object as a stream (read it in chunks: a file may be large)."""
    body: ByteStream = clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    return body
