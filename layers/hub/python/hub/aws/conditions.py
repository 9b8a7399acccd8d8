"""DynamoDB writes made on the condition that their item does not exist yet."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError


def write_if_absent(write: Callable[[], object]) -> bool:
    """Run ``write``, a DynamoDB write conditioned on its item being absent (``attribute_not_exists``);
    False (nothing written) when the item exists. Any other failure propagates."""
    try:
        write()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False
    return True
