"""Bringing a failed SQS message back sooner than the queue's visibility timeout.

The import queue's visibility timeout is long (6x the function's 15 minutes, as AWS advises for
an SQS trigger): a message reported in ``batchItemFailures`` would only come back after it.
The import function shortens it for the messages it fails: a growing backoff after a failure,
or the remaining time of the lease another delivery holds. Best effort: when the change fails,
the queue's own timeout applies.
"""

from __future__ import annotations

import logging
from typing import Any

from cytotile.aws.events import Message

log = logging.getLogger("cytotile.aws.queue")

BACKOFF_S = 30.0  # after the first failed delivery; doubles with each one
MAX_DELAY_S = 43200  # SQS's largest visibility timeout (12 hours)


def backoff_s(receive_count: int) -> float:
    """Seconds before the next delivery of a message that failed on delivery ``receive_count``."""
    return float(min(MAX_DELAY_S, BACKOFF_S * 2 ** max(0, receive_count - 1)))


def queue_url(client: Any, queue_arn: str) -> str:
    """The URL of a queue from its ARN (``arn:aws:sqs:<region>:<account>:<name>``), on the
    client's endpoint (AWS, LocalStack or moto alike)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
    return f"{client.meta.endpoint_url.rstrip('/')}/{parts[4]}/{parts[5]}"


def _sqs_client(region: str | None) -> Any:
    import boto3

    return boto3.client("sqs", region_name=region)


def retry_after(message: Message, seconds: float, client: Any = None) -> bool:
    """Make ``message`` visible again in ``seconds``; whether that worked."""
    if not message.receipt_handle or not message.queue_arn:
        return False
    try:
        region = message.queue_arn.split(":")[3] or None
        client = client if client is not None else _sqs_client(region)
        client.change_message_visibility(
            QueueUrl=queue_url(client, message.queue_arn),
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=int(min(MAX_DELAY_S, max(0.0, seconds))),
        )
    except Exception as exc:
        log.warning("message %s: cannot shorten its visibility: %s", message.message_id, exc)
        return False
    log.info("message %s: delivered again in %.0f s", message.message_id, seconds)
    return True
