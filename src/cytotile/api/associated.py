"""Associated images (label, macro, thumb), stored as PNG at import; resized on demand."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.http import conditional, image_response, make_etag, negotiate
from cytotile.api.metadata import load
from cytotile.api.routing import context, route
from cytotile.api.thumbs import options
from cytotile.errors import BadParameter, NotFound
from cytotile.pipeline import budget, encode, sizes
from cytotile.pipeline.args import Args
from cytotile.pipeline.encode import Format, Output
from cytotile.pipeline.regions import parse_target

KINDS = ("label", "macro", "thumb")
#: PIMS's default size: the longer side is 256 unless length, width or height says otherwise
DEFAULT_LENGTH = 256


def associated_image(request: Request, args: Args) -> Response:
    ctx = context(request)
    kind = request.path_params["kind"].lower()
    if kind not in KINDS:
        raise BadParameter(f"associated_key: {kind!r} is not one of {', '.join(KINDS)}")
    fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
    target = parse_target(args, tiers=False, default_length=DEFAULT_LENGTH)
    opts = options(request, fmt)
    manifest = load(request)
    key = manifest.associated.get(kind)
    if key is None:
        raise NotFound(f"{manifest.id} has no {kind} image")
    etag = make_etag("associated", manifest.to_json(), kind, target, opts)

    def build() -> Response:
        import pyvips

        data = ctx.storage.read(key)
        image = pyvips.Image.new_from_buffer(data, "", fail_on="error")
        width, height = sizes.scaled_size(target, image.width, image.height, None)
        if fmt is Format.PNG and (width, height) == (image.width, image.height):
            return image_response(Output(data, fmt.media_type))  # the stored image as it is
        if image.bands in (2, 4):  # drop alpha
            image = image.extract_band(0, n=image.bands - 1)
        pixels = encode.from_vips(image.cast("uchar"))
        source, bands = image.width * image.height, image.bands

        def work_of(w: int, h: int) -> budget.Work:
            return budget.Work(source, bands, 1, w * h, bands, 1, fmt)

        width, height, headers = budget.fit(
            width, height, fmt, opts.max_pixels, opts.safety, opts.memory_budget, work_of
        )
        if width * height > source:  # upscaled: libvips resizes and encodes, streaming
            out = encode.encode_resized(pixels, width, height, fmt, opts.quality)
        else:
            out = encode.encode(encode.resize(pixels, width, height), fmt, opts.quality)
        return image_response(Output(out, fmt.media_type, headers=headers))

    return conditional(request, etag, ctx.settings.cache_max_age, build)


def routes() -> list[BaseRoute]:
    return [route("/image/{path}/associated/{kind}{ext}", associated_image)]
