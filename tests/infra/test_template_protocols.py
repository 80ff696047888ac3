"""template.yaml's CloudFront part covers the IIIF and DeepZoom routes: image requests and DZI
tiles keyed like tiles with an extension, IIIF documents keyed on Accept (JSON or JSON-LD) and
on the viewer's host their absolute ids are built from."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from tests.infra.test_template import behaviours, policy_of, ref, resources, template  # noqa: F401

ID = "upload-1%2Fa.svs"


def behaviour_for(template: dict[str, Any], path: str) -> dict[str, Any]:  # noqa: F811
    """CloudFront's choice: the first behaviour whose pattern matches (* spans slashes)."""
    for behaviour in behaviours(template)[:-1]:
        if fnmatchcase(path, behaviour["PathPattern"]):
            return behaviour
    return behaviours(template)[-1]


def test_protocol_routes_have_their_behaviours(template: dict[str, Any]) -> None:  # noqa: F811
    tile_policy = ref("TileCachePolicy")
    for path in (
        f"/iiif/3/{ID}/0,0,256,256/256,256/0/default.jpg",
        f"/iiif/2/{ID}/full/max/0/gray.png",
        f"/iiif/3/{ID}/full/max/0/default.webp",
        "/dzi/upload-1/a.svs_files/12/3_4.jpeg",
        "/dzi/upload-1/a.svs_files/0/0_0.png",
        "/dzi/upload-1/a.svs.dzi",
    ):
        assert behaviour_for(template, path)["CachePolicyId"] == tile_policy, path
    for path in (f"/iiif/3/{ID}/info.json", f"/iiif/3/{ID}/manifest", f"/iiif/3/{ID}"):
        behaviour = behaviour_for(template, path)
        assert behaviour["CachePolicyId"] == ref("IiifDocumentCachePolicy"), path
        key = policy_of(template, behaviour)["ParametersInCacheKeyAndForwardedToOrigin"]
        assert set(key["HeadersConfig"]["Headers"]) == {
            "Accept", "Origin", "X-Cytotile-Public-Host",
        }  # fmt: skip
        assert key["QueryStringsConfig"]["QueryStringBehavior"] == "none"


def test_iiif_behaviours_pass_the_viewer_host(template: dict[str, Any]) -> None:  # noqa: F811
    function = resources(template, "AWS::CloudFront::Function")["PublicHostFunction"]
    assert "x-cytotile-public-host" in function["Properties"]["FunctionCode"]
    for behaviour in behaviours(template):
        if behaviour.get("PathPattern", "").startswith("/iiif/"):
            (association,) = behaviour["FunctionAssociations"]
            assert association["EventType"] == "viewer-request"
    (request_policy,) = resources(template, "AWS::CloudFront::OriginRequestPolicy").values()
    headers = request_policy["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]
    assert "X-Cytotile-Public-Host" in headers["Headers"]
