"""template.yaml, read as data: least privilege, the import trigger, the dead-letter queue, the
CDN's cache key (derived from what the API really parses) and what LocalStack needs.

(``cfn-lint`` and ``sam validate --lint`` check the template's syntax: ``make lint-template``.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

#: what an S3 action may be for a function that only reads
S3_READ_ACTIONS = {"s3:GetObject", "s3:ListBucket"}
#: SAM policy templates and managed policies that grant writes
WRITING_TEMPLATES = re.compile(r"(Crud|Write|FullAccess|PowerUser|Admin)", re.IGNORECASE)


class Tag:
    """A CloudFormation short-form function (``!Ref X``, ``!Sub "..."``, ``!GetAtt A.B``)."""

    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tag) and (self.name, self.value) == (other.name, other.value)

    def __repr__(self) -> str:
        return f"!{self.name} {self.value!r}"


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tag:
    if isinstance(node, yaml.ScalarNode):
        return Tag(suffix, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Tag(suffix, loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return Tag(suffix, loader.construct_mapping(node, deep=True))


class CfnLoader(yaml.SafeLoader):
    pass


CfnLoader.add_multi_constructor("!", _tag)


def ref(name: str) -> Tag:
    return Tag("Ref", name)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    return loaded


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline statements of a function's Policies; fails on anything it cannot judge."""
    out: list[dict[str, Any]] = []
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, dict) and set(policy) == {"Statement"}:
            out += [_granted(s) for s in policy["Statement"]]
        else:
            name = policy if isinstance(policy, str) else next(iter(policy))
            assert not WRITING_TEMPLATES.search(str(name)), f"{name} grants writes"
            raise AssertionError(f"policy {name!r}: state inline statements (least privilege)")
    return out


def _granted(statement: Any) -> dict[str, Any]:
    """A statement granted under a condition (``!If [cond, statement, !Ref AWS::NoValue]``) is
    judged as if granted."""
    if isinstance(statement, Tag) and statement.name == "If":
        _, granted, otherwise = statement.value
        assert otherwise == ref("AWS::NoValue"), statement
        return dict(granted)
    return dict(statement)


def secret_read(statement: dict[str, Any]) -> bool:
    """The Cytomine key pairs' secret, read by the API functions: that one secret, only read."""
    if statement.get("Sid") != "ReadCytomineKeys":
        return False
    assert actions(statement) == ["secretsmanager:GetSecretValue"], statement
    assert statement["Resource"] == ref("CytomineKeysSecretArn"), statement
    return True


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def mentions(value: Any, name: str) -> bool:
    """Whether a (possibly tagged) value refers to the resource ``name``."""
    if isinstance(value, Tag):
        return mentions(value.value, name)
    if isinstance(value, str):
        return value == name or value.startswith(name + ".") or "${" + name in value
    if isinstance(value, list):
        return any(mentions(v, name) for v in value)
    if isinstance(value, dict):
        return any(mentions(v, name) for v in value.values())
    return False


def test_globals_grant_nothing(template: dict[str, Any]) -> None:
    assert "Policies" not in template["Globals"]["Function"]
    assert "Role" not in template["Globals"]["Function"]


@pytest.mark.parametrize("name", ["TileFunction", "AnnotationFunction"])
def test_serving_functions_only_read_the_images_bucket(template: dict[str, Any], name: str) -> None:
    function = template["Resources"][name]
    assert "Role" not in function["Properties"]
    found = statements(function)
    assert found
    for statement in found:
        assert statement["Effect"] == "Allow"
        if secret_read(statement):
            continue
        for action in actions(statement):
            assert action in S3_READ_ACTIONS, f"{name} may {action}"
            assert "*" not in action
        if statement.get("Sid") == "ReadUploads" and name == "TileFunction":
            # exports of an upload left in the upload bucket: presigned GETs signed by this role
            assert actions(statement) == ["s3:GetObject"], statement
            assert statement["Resource"] == Tag("Sub", "${UploadBucket.Arn}/*"), statement
            continue
        assert mentions(statement["Resource"], "ImagesBucket"), statement
        assert not mentions(statement["Resource"], "UploadBucket"), statement


def test_only_the_upload_function_writes_uploads(template: dict[str, Any]) -> None:
    """POST /upload/presigned signs uploads with its own permissions: new objects under
    incoming/ of the upload bucket, nothing else."""
    function = template["Resources"]["UploadFunction"]["Properties"]
    found = [s for s in statements(template["Resources"]["UploadFunction"]) if not secret_read(s)]
    assert {a for s in found for a in actions(s)} == {"s3:PutObject", "s3:AbortMultipartUpload"}
    for statement in found:
        assert statement["Resource"] == Tag("Sub", "${UploadBucket.Arn}/incoming/*")
    root = function["Environment"]["Variables"]["CYTOTILE_UPLOAD_ROOT"]
    assert root == Tag("Sub", "s3://${UploadBucket}/incoming")
    # PIMS's upload and the presigned one, at / and under the base path (Cytomine's /ims)
    paths = {e["Properties"]["Path"] for e in function["Events"].values()}
    assert paths == {"/upload", "/upload/presigned", "/ims/upload", "/ims/upload/presigned"}
    assert all(e["Properties"]["RestApiId"] == ref("Api") for e in function["Events"].values())
    writers = {
        name
        for name, resource in resources(template, "AWS::Serverless::Function").items()
        if any(
            not set(actions(s)) <= S3_READ_ACTIONS | {"sqs:ChangeMessageVisibility"}
            for s in statements(resource)
            if not secret_read(s)
        )
    }
    assert writers == {"ImportFunction", "UploadFunction"}


def test_import_function_privileges(template: dict[str, Any]) -> None:
    found = statements(template["Resources"]["ImportFunction"])
    upload = [s for s in found if mentions(s["Resource"], "UploadBucket")]
    images = [s for s in found if mentions(s["Resource"], "ImagesBucket")]
    assert {a for s in upload for a in actions(s)} == S3_READ_ACTIONS  # reads the upload only
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= {
        a for s in images for a in actions(s)
    }
    assert not any("*" in a for s in found for a in actions(s))


def test_import_trigger(template: dict[str, Any]) -> None:
    function = template["Resources"]["ImportFunction"]["Properties"]
    (event,) = function["Events"].values()
    assert event["Type"] == "SQS"
    props = event["Properties"]
    assert props["Queue"] == Tag("GetAtt", "ImportQueue.Arn")
    assert props["BatchSize"] == 1
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"]["MaximumConcurrency"] == ref("ImportConcurrency")
    assert function["ReservedConcurrentExecutions"] == ref("ImportConcurrency")
    assert function["Timeout"] == 900
    assert function["EphemeralStorage"]["Size"] == 10240
    assert function["MemorySize"] == ref("ImportMemorySize")
    env = function["Environment"]["Variables"]
    assert env["CYTOTILE_MAX_RECEIVE_COUNT"] == ref("MaxReceiveCount")


def test_import_function_enqueues_archive_members(template: dict[str, Any]) -> None:
    """An archive's images go back to the import queue, one message each."""
    function = template["Resources"]["ImportFunction"]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["CYTOTILE_IMPORT_QUEUE_URL"] == ref("ImportQueue")
    sends = [s for s in statements(function) if "sqs:SendMessage" in actions(s)]
    assert [s["Resource"] for s in sends] == [Tag("GetAtt", "ImportQueue.Arn")]


def test_dead_letter_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"]["ImportQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": Tag("GetAtt", "ImportDeadLetterQueue.Arn"),
        "maxReceiveCount": ref("MaxReceiveCount"),
    }
    assert queue["VisibilityTimeout"] >= 6 * 900
    dlq = template["Resources"]["ImportDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] >= queue["MessageRetentionPeriod"]


def test_uploads_notify_the_queue_and_browsers_may_upload(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["UploadBucket"]["Properties"]
    (notification,) = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notification == {
        "Event": "s3:ObjectCreated:*",
        "Queue": Tag("GetAtt", "ImportQueue.Arn"),
    }
    (cors,) = bucket["CorsConfiguration"]["CorsRules"]
    assert "PUT" in cors["AllowedMethods"] and "ETag" in cors["ExposedHeaders"]


def test_binary_media_types(template: dict[str, Any]) -> None:
    api = template["Resources"]["Api"]
    assert api["Type"] == "AWS::Serverless::Api"  # REST: LocalStack has no HTTP API
    assert api["Properties"]["BinaryMediaTypes"] == ["*~1*"]


def tile_query_strings() -> set[str]:
    """The query parameters a GET tile request's answer depends on: what the tile route parses
    (api/tiles.py: the tier and tile come from the path, the rest from parse_image_params)."""
    from cytotile.pipeline.args import Args
    from cytotile.pipeline.params import parse_image_params

    seen: set[str] = set()

    class Recorder(dict[str, list[Any]]):
        def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
            seen.add(key)
            return super().get(key, default)

    parse_image_params(Args(Recorder({"probe": ["x"]})))
    return seen


def cache_policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: policy["Properties"]["CachePolicyConfig"]
        for name, policy in resources(template, "AWS::CloudFront::CachePolicy").items()
    }


def behaviours(template: dict[str, Any]) -> list[dict[str, Any]]:
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    return [*config["CacheBehaviors"], config["DefaultCacheBehavior"]]


def policy_of(template: dict[str, Any], behaviour: dict[str, Any]) -> dict[str, Any]:
    return cache_policies(template)[behaviour["CachePolicyId"].value]


def test_tile_cache_key_is_what_the_api_parses(template: dict[str, Any]) -> None:
    expected = tile_query_strings()
    assert expected >= {"channels", "gammas", "min_intensities", "colormaps", "filters", "log"}
    tiles = [b for b in behaviours(template) if "tile/" in b.get("PathPattern", "")]
    assert {b["PathPattern"] for b in tiles} >= {
        "/image/*/normalized-tile/*",
        "/image/*/tile/*",
    }
    for behaviour in tiles:
        key = policy_of(template, behaviour)["ParametersInCacheKeyAndForwardedToOrigin"]
        query = key["QueryStringsConfig"]
        if len(expected) > 10:  # CloudFront's quota of whitelisted query strings per policy
            assert query["QueryStringBehavior"] == "all"
        else:
            assert query["QueryStringBehavior"] == "whitelist"
            assert set(query["QueryStrings"]) == expected
        headers = set(key["HeadersConfig"]["Headers"])
        assert "Origin" in headers  # CORS answers differ with and without it
        # the extension decides the format; without one, Accept does
        assert ("Accept" in headers) == (not behaviour["PathPattern"].endswith(".jpg"))
        assert key["CookiesConfig"]["CookieBehavior"] == "none"


def test_other_routes_key_on_accept_and_every_query_string(template: dict[str, Any]) -> None:
    default = behaviours(template)[-1]
    key = policy_of(template, default)["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "all"
    assert set(key["HeadersConfig"]["Headers"]) == {"Accept", "Origin", "X-Image-Size-Safety"}


def test_ttls_honour_the_origin(template: dict[str, Any]) -> None:
    for name, config in cache_policies(template).items():
        assert config["MinTTL"] == 0, name
        assert config["DefaultTTL"] == 0, name  # no Cache-Control: not cached
        assert config["MaxTTL"] >= 86400, name  # the origin's s-maxage decides


def test_methods_and_origin(template: dict[str, Any]) -> None:
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == Tag("Sub", "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}")
    assert origin["OriginPath"] == Tag("Sub", "/${Stage}")
    for behaviour in behaviours(template):
        assert "POST" in behaviour["AllowedMethods"]  # PIMS's POST forms reach the API
        assert behaviour["CachedMethods"] == ["GET", "HEAD"]  # and are never cached
        assert behaviour["OriginRequestPolicyId"] == ref("ApiOriginRequestPolicy")
    (request_policy,) = resources(template, "AWS::CloudFront::OriginRequestPolicy").values()
    headers = request_policy["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"  # never allViewer: Host would go too
    assert "host" not in {h.lower() for h in headers["Headers"]}
    assert {"Accept", "Content-Type", "Origin"} <= set(headers["Headers"])


def test_cdn_is_optional(template: dict[str, Any]) -> None:
    """LocalStack has no CloudFront: EnableCdn=false must leave none of it."""
    assert template["Parameters"]["EnableCdn"]["Default"] == "true"
    assert template["Conditions"]["CdnEnabled"] == Tag("Equals", [ref("EnableCdn"), "true"])
    cdn = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"].startswith("AWS::CloudFront::")
    }
    assert len(cdn) >= 4
    for name in cdn:
        assert template["Resources"][name]["Condition"] == "CdnEnabled", name
    for name, resource in template["Resources"].items():
        if name not in cdn:
            assert not any(mentions(resource, c) for c in cdn), f"{name} needs the CDN"
    for name, output in template["Outputs"].items():
        if any(mentions(output["Value"], c) for c in cdn):
            assert output.get("Condition") == "CdnEnabled", name
    assert "CdnUrl" in template["Outputs"]


def test_parameters_and_outputs(template: dict[str, Any]) -> None:
    assert {
        "Stage",
        "JpegQuality",
        "CacheMaxAge",
        "TileMemorySize",
        "ImportMemorySize",
        "ImportConcurrency",
        "MaxReceiveCount",
        "EnableCdn",
    } <= set(template["Parameters"])
    assert {
        "ApiUrl",
        "CdnUrl",
        "UploadBucketName",
        "ImagesBucketName",
        "ImportQueueUrl",
        "DeadLetterQueueUrl",
    } <= set(template["Outputs"])
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == {
        "ImportFunction",
        "TileFunction",
        "AnnotationFunction",
        "UploadFunction",
    }
    layers = template["Globals"]["Function"]["Layers"]
    assert layers == [ref("VipsLayer")]
    layer = template["Resources"]["VipsLayer"]["Properties"]
    assert layer["ContentUri"] == "layers/vips/"
    for name, function in functions.items():
        code = ROOT / function["Properties"]["CodeUri"]
        assert (code / "app.py").is_file(), name
