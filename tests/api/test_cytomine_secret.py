"""Cytomine's keys read from a Secrets Manager secret (moto): the template passes its ARN, never
a key; a secret that cannot be read stops the app from starting (fail closed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from email.utils import formatdate

import pytest
from moto import mock_aws
from starlette.testclient import TestClient

from cytotile.api.app import create_app
from cytotile.api.cytomine_secret import with_secret
from cytotile.errors import BadParameter
from cytotile.settings import ServerSettings
from tests.api.conftest import Images


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def signed(path: str, public: str, private: str) -> dict[str, str]:
    date = formatdate(usegmt=True)
    digest = hmac.new(private.encode(), f"GET\n\n\n{date}\n{path}?".encode(), hashlib.sha1)
    return {
        "date": date,
        "authorization": f"CYTOMINE {public}:{base64.b64encode(digest.digest()).decode()}",
    }


@pytest.mark.usefixtures("aws")
def test_keys_come_from_the_secret(images: Images) -> None:
    import boto3

    with mock_aws():
        secrets = boto3.client("secretsmanager")
        value = {"cytomine_keys": "pub-s:priv-s", "core_keys": "server:server-private"}
        arn = secrets.create_secret(Name="cytotile/cytomine", SecretString=json.dumps(value))["ARN"]
        settings = ServerSettings(root=str(images.root), cytomine_secret_arn=arn)
        resolved = with_secret(settings)
        assert (resolved.cytomine_keys, resolved.core_keys) == (
            value["cytomine_keys"],
            value["core_keys"],
        )
        assert "priv" not in repr(resolved)
        kept = with_secret(ServerSettings(cytomine_secret_arn=arn, cytomine_keys="a:b"))
        assert kept.cytomine_keys == "a:b"  # the environment's key wins
        path = f"/image/{images.rgb.path}/export"
        with TestClient(create_app(settings, images.storage)) as api:
            assert api.get(path).status_code == 401  # the secret's keys are checked
            assert api.get(path, headers=signed(path, "pub-s", "priv-s")).status_code == 200
        secrets.create_secret(Name="not-json", SecretString="pub:priv")
        for wrong in ("arn:aws:secretsmanager:us-east-1:123456789012:secret:none", "not-json"):
            with pytest.raises(BadParameter) as refused:
                create_app(
                    ServerSettings(root=str(images.root), cytomine_secret_arn=wrong), images.storage
                )
            assert "priv" not in str(refused.value)
