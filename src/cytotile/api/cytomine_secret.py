"""Cytomine's keys from an AWS Secrets Manager secret (``CYTOTILE_CYTOMINE_SECRET_ARN``), so
that no key is in the template, its parameters or the functions' environment.

The secret's string is JSON: ``{"core_keys": "<public>:<private>", "cytomine_keys":
"<public>:<private>,..."}`` (either member may be absent). It is read once, when the app is
created; a key set in the environment wins over the secret's. A secret that cannot be read or
parsed stops the app from starting (a server that could not check signatures must not serve
what they protect); the error names the secret, never its content.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cytotile.errors import BadParameter
from cytotile.settings import ServerSettings


def read_secret(arn: str) -> dict[str, Any]:
    import boto3

    try:
        text = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        found = json.loads(text)
    except Exception as exc:  # botocore's errors, a binary secret, not JSON
        raise BadParameter(
            f"CYTOTILE_CYTOMINE_SECRET_ARN: cannot read {arn}: {type(exc).__name__}"
        ) from None
    if not isinstance(found, dict):
        raise BadParameter(f"CYTOTILE_CYTOMINE_SECRET_ARN: {arn} is not a JSON object")
    return found


def with_secret(settings: ServerSettings) -> ServerSettings:
    """``settings`` with the secret's keys where the environment gave none."""
    if not settings.cytomine_secret_arn:
        return settings
    found = read_secret(settings.cytomine_secret_arn)
    return dataclasses.replace(
        settings,
        core_keys=settings.core_keys or str(found.get("core_keys") or ""),
        cytomine_keys=settings.cytomine_keys or str(found.get("cytomine_keys") or ""),
    )
