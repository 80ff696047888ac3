"""The upload context S3 object metadata carries from the API to the import function."""

from __future__ import annotations

import base64

import pytest

from cytotile import upload_context as uc

UPLOAD_ID = "upload-0b6c1c1e-2f5d-4d1a-9a47-2a2f3f6c7e11"
CONTEXT = {"uploadedFile": 1001, "storage": 12, "projects": [34, 35],
           "properties": [["clé", "vâleur"]], "user": 61, "imageServer": 7}  # fmt: skip


def test_round_trip_keeps_non_ascii_values_in_ascii_metadata() -> None:
    metadata = uc.encode(UPLOAD_ID, CONTEXT)
    assert all(v.isascii() for v in metadata.values())  # S3 sends metadata as HTTP headers
    assert uc.decode(metadata) == (UPLOAD_ID, CONTEXT)
    upper = {k.upper(): v for k, v in metadata.items()}  # names as some clients spell them
    assert uc.decode(upper) == (UPLOAD_ID, CONTEXT)
    assert uc.decode(uc.encode(UPLOAD_ID)) == (UPLOAD_ID, None)


@pytest.mark.parametrize(
    "metadata",
    [None, {}, {uc.UPLOAD_ID: "upload-../../etc"}, {uc.UPLOAD_ID: "not-an-upload"}],
)
def test_no_or_a_malformed_id_is_no_context(metadata: dict[str, str] | None) -> None:
    assert uc.decode(metadata) == (None, None)


@pytest.mark.parametrize(
    "raw",
    ["%%%", base64.urlsafe_b64encode(b"[1, 2]").decode(),
     base64.urlsafe_b64encode(b'{"uploadedFile": "12"}').decode()],
)  # fmt: skip
def test_a_malformed_context_is_ignored(raw: str) -> None:
    assert uc.decode({uc.UPLOAD_ID: UPLOAD_ID, uc.CYTOMINE: raw}) == (UPLOAD_ID, None)


def test_a_context_over_s3s_2_kb_is_refused() -> None:
    big = {**CONTEXT, "properties": [["k", "v" * 1600]]}
    with pytest.raises(uc.ContextTooLarge, match="2048"):
        uc.encode(UPLOAD_ID, big)
