"""What every format provides: a checker (content, never the extension), a parser, a source.

A *source* hands the converter one libvips image per concrete plane (C, Z, T) at full
resolution, and the associated images (label, macro, thumb) when the format has them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyvips


@dataclass
class ChannelInfo:
    index: int
    suggested_name: str
    color: str | None = None  # "#RRGGBB"
    emission_wavelength: float | None = None
    excitation_wavelength: float | None = None


@dataclass
class AssociatedInfo:
    width: int
    height: int
    n_channels: int


@dataclass
class ImageMetadata:
    """What a parser extracts; serialized into ``manifest.json`` (PIMS ``/info`` fields)."""

    format_id: str  # PIMS identifier: JPEG, PNG, PLANARTIFF, PYRTIFF, SVS, ...
    width: int
    height: int
    n_channels: int  # 3 for RGB, 1 for grey, C for multi-channel
    n_concrete_channels: int  # planes per (Z, T): 1 for interleaved RGB
    n_samples: int  # samples per pixel of one concrete plane (3 for RGB, else 1)
    pixel_type: str  # uint8 | uint16 | ... (the stored samples')
    significant_bits: int
    depth: int = 1
    duration: int = 1
    physical_size_x: float | None = None  # micrometers
    physical_size_y: float | None = None
    physical_size_z: float | None = None
    frame_rate: float | None = None
    acquired_at: str | None = None  # ISO 8601
    description: str | None = None
    objective_nominal_magnification: float | None = None
    objective_calibrated_magnification: float | None = None
    microscope_model: str | None = None
    channels: list[ChannelInfo] = field(default_factory=list)
    associated: dict[str, AssociatedInfo] = field(default_factory=dict)
    raw_metadata: dict[str, Any] = field(default_factory=dict)  # "namespace.key" -> value
    #: the file's own signed type (int8, int16, int32) stored shifted to ``pixel_type``
    sample_type: str | None = None

    @property
    def n_planes(self) -> int:
        return self.n_concrete_channels * self.depth * self.duration

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageMetadata:
        data = dict(data)
        data["channels"] = [ChannelInfo(**c) for c in data.get("channels", [])]
        data["associated"] = {k: AssociatedInfo(**v) for k, v in data.get("associated", {}).items()}
        return cls(**data)


class Source(ABC):
    """An opened original, ready to be converted. Use as a context manager."""

    metadata: ImageMetadata
    #: (file, page index) of a TIFF page holding level 0 as the plane gives it (8-bit grey or
    #: RGB, no conversion applied), when there is one: the converter may then copy its JPEG
    #: tiles' coefficients instead of decoding them (cytotile.importer.retile)
    tiff_page: tuple[Path, int] | None = None
    #: a DICOM whole-slide instance whose JPEG frames are level 0 as the plane gives it: the
    #: converter may copy their coefficients too (cytotile.importer.dicomframes)
    dicom_level0: Path | None = None

    @abstractmethod
    def plane(self, c: int = 0, z: int = 0, t: int = 0) -> pyvips.Image:
        """Level 0 of one concrete plane: ``n_samples`` bands of ``pixel_type``, sequential access
        is enough. Decoding errors must surface as exceptions (``fail_on``), never as blanks."""

    def associated(self, name: str) -> pyvips.Image | None:
        """``label``, ``macro`` or ``thumb`` when the original has it (8-bit, 1 or 3 bands)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: ``Format.order`` bands: detection tries formats in increasing order, so a format must sort
#: before the generic formats it is a special case of (see docs/formats.md).
ORDER_VENDOR = 100  # vendor whole-slide formats recognised by a signature (SVS, NDPI, SCN...)
ORDER_MICROSCOPY = 200  # multi-dimensional microscopy (OME-TIFF, ImageJ, CZI, LIF, ND2)
ORDER_TIFF = 300  # generic TIFF: pyramidal before planar
ORDER_DICOM = 400
ORDER_COMMON = 500  # common single-image formats (JPEG, PNG, WebP, BMP, ...)
ORDER_LAST = 900  # catch-alls that only name what they refuse


class Format(ABC):
    """One image format: its identifier, a checker and a way to open a source.

    Formats are registered as entry points of the group ``cytotile.formats`` (see
    :mod:`cytotile.formats.registry`); ``order`` says where the checker runs in detection."""

    id: str  # uppercase PIMS identifier
    name: str
    remarks: str = ""
    #: detection order: lower first (``ORDER_*`` bands above)
    order: int = ORDER_COMMON
    #: True when the original can be served without conversion (never the case yet)
    native: bool = False
    #: an upload of this format can be imported (False: detected only to say why it is refused)
    importable: bool = True
    #: the image spans several files in one folder (MRXS + its data folder, VMS + its JPEGs, a
    #: DICOM series): ``open(path)`` is given the file that names the image (the ``.mrxs``, the
    #: ``.vms``, any instance of the series) and finds the others beside it. An extracted
    #: archive holding a member of such a format is imported as that one image, not as a
    #: collection (cytotile.importer.archives)
    multi_file: bool = False

    @classmethod
    @abstractmethod
    def match(cls, path: Path, head: bytes) -> bool:
        """Whether the file is of this format, from ``head`` (first 4 KiB) and, if needed, a cheap
        look at the file's structure. Never from the file name."""

    @classmethod
    @abstractmethod
    def open(cls, path: Path) -> Source:
        """Parse metadata and prepare planes. Raise ``FormatError`` for what is not this format or
        is malformed, ``ConversionError`` for pixels that cannot be decoded."""

    @classmethod
    def images(cls, path: Path) -> list[str]:
        """The names of the separate images a file of several holds (LIF series, OME-XML
        ``Image`` elements, CZI scenes): each becomes its own upload, the file's upload a
        collection (cytotile.importer.series). Empty (the default) or one name: one image."""
        return []

    @classmethod
    def open_image(cls, path: Path, index: int) -> Source:
        """Image ``index`` of :meth:`images` (0 is what :meth:`open` opens)."""
        if index == 0:
            return cls.open(path)
        from cytotile.errors import FormatError

        raise FormatError(f"a {cls.name} file holds one image, not image {index + 1}")
