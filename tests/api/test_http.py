"""Content negotiation, ETag matching and the route patterns."""

from __future__ import annotations

import pytest

from cytotile.api.http import etag_matches, make_etag, negotiate
from cytotile.api.routing import compile_pattern
from cytotile.errors import BadParameter, NotAcceptable
from cytotile.pipeline.encode import Format


@pytest.mark.parametrize(
    ("ext", "accept", "fmt"),
    [
        (".jpg", "image/png", Format.JPEG),
        (".JPEG", None, Format.JPEG),
        (".png", None, Format.PNG),
        (".webp", "image/jpeg", Format.WEBP),
        (None, None, Format.JPEG),
        (None, "", Format.JPEG),
        (None, "image/webp, image/png;q=0.8", Format.WEBP),
        (None, "image/png;q=0.5, image/*;q=0.4", Format.PNG),
        (None, "image/*;q=0.4, image/png;q=0.5", Format.PNG),
        (None, "*/*;q=0.1, image/webp;q=0.05", Format.JPEG),
        (None, "image/jpeg;q=bogus, image/png", Format.PNG),
        (None, "IMAGE/PNG", Format.PNG),
    ],
)
def test_negotiate(ext: str | None, accept: str | None, fmt: Format) -> None:
    assert negotiate(ext, accept) is fmt


@pytest.mark.parametrize(("ext", "accept"), [(None, "text/html"), (None, "*/*;q=0")])
def test_not_acceptable(ext: str | None, accept: str | None) -> None:
    with pytest.raises(NotAcceptable):
        negotiate(ext, accept)


def test_unserved_extension_is_a_bad_parameter() -> None:
    with pytest.raises(BadParameter):  # 422, as PIMS's validation of the extension
        negotiate(".gif", "image/png")


def test_etags() -> None:
    tag = make_etag("tile", 1, (2, 3))
    assert tag == make_etag("tile", 1, (2, 3)) != make_etag("tile", 1, (2, 4))
    assert etag_matches(tag, tag) and etag_matches(f"W/{tag}", tag)
    assert etag_matches(f'"a", {tag}', tag) and etag_matches("*", tag)
    assert not etag_matches(None, tag) and not etag_matches('"a"', tag)


def test_patterns() -> None:
    regex = compile_pattern("/image/{path}/normalized-tile/{tier}/{n}/ti/{ti}{ext}")
    match = regex.match("/image/upload-1/a b/c.svs/normalized-tile/zoom/3/ti/12.jpg")
    assert match and match.groupdict() == {
        "path": "upload-1/a b/c.svs", "tier": "zoom", "n": "3", "ti": "12", "ext": ".jpg",
    }  # fmt: skip
    bare = regex.match("/image/upload-1/x/normalized-tile/level/0/ti/7")
    assert bare and bare.group("ext") is None and bare.group("ti") == "7"
    decimal = regex.match("/image/upload-1/x/normalized-tile/level/0/ti/1.5")
    assert decimal and decimal.group("ti") == "1.5" and decimal.group("ext") is None
    assert not regex.match("/image/upload-1/x/normalized-tile/size/0/ti/7")
