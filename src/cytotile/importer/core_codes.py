"""Cytomine core's ``UploadedFileStatus`` codes, as cytotile sends them: what the serving side
reads (no more than this at its cold start) and what the registration's state orders."""

from __future__ import annotations

#: the core's UploadedFileStatus codes (even: information or success, odd: an error)
CODES = {
    "UPLOADED": 0, "DETECTING_FORMAT": 10, "ERROR_FORMAT": 11, "EXTRACTING_DATA": 20,
    "ERROR_EXTRACTION": 21, "CONVERTING": 30, "ERROR_CONVERSION": 31, "DEPLOYING": 40,
    "ERROR_DEPLOYMENT": 41, "DEPLOYED": 100, "EXTRACTED": 102, "CONVERTED": 104,
}  # fmt: skip
#: the import's steps, each sent as it starts (their codes grow: 10, 20, 30, 40)
AT_START = ("DETECTING_FORMAT", "EXTRACTING_DATA", "CONVERTING", "DEPLOYING")
STEP_CODES = frozenset(CODES[s] for s in AT_START)
