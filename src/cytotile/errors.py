"""Domain errors. They know nothing of HTTP: `cytotile.api.errors` maps them to status codes."""

from __future__ import annotations


class CytotileError(Exception):
    """Base of every error cytotile raises on purpose."""

    title = "Error"

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


class NotFound(CytotileError):
    title = "Not found"


class ImageNotFound(NotFound):
    title = "Image not found"


class BadPath(CytotileError):
    """A path that is malformed or tries to leave the root."""

    title = "Bad path"


class TierOutOfRange(CytotileError):
    title = "Tier out of range"


class TileOutOfRange(CytotileError):
    title = "Tile out of range"


class BadParameter(CytotileError):
    title = "Invalid parameter"


class NotAcceptable(CytotileError):
    title = "Not acceptable"


class TooLarge(CytotileError):
    title = "Requested image too large"


class OverBudget(TooLarge):
    """The answer would take more memory than one request may use."""

    title = "Over the memory budget"


class OverTimeBudget(OverBudget):
    """The answer would take longer to make than one request may take."""

    title = "Over the time budget"


class StorageError(CytotileError):
    title = "Storage error"


class CoreProblem(CytotileError):
    """A Cytomine core refused a call an upload needs (a storage or project it does not have)."""

    title = "Cytomine core communication error"


class CoreUnavailable(CoreProblem):
    """A Cytomine core an upload needs could not be asked."""


class PyramidError(CytotileError):
    """The serving pyramid is malformed or unreadable."""

    title = "Corrupt pyramid"


class ImportFailure(CytotileError):
    """An import step failed; `status` is the ERROR_* status the upload ends in."""

    status = "ERROR_DEPLOYMENT"


class FormatError(ImportFailure):
    status = "ERROR_FORMAT"


class ExtractionError(ImportFailure):
    status = "ERROR_EXTRACTION"


class ConversionError(ImportFailure):
    status = "ERROR_CONVERSION"


class DeploymentError(ImportFailure):
    status = "ERROR_DEPLOYMENT"
