"""Annotation masks, crops and drawings (``POST /image/{path}/annotation/{kind}{ext}``), and the
``annotations`` / ``annotation_style`` members of a window body.

Headers: ``X-Annotation-Origin`` (LEFT_TOP, or LEFT_BOTTOM for Cytomine's y-up coordinates),
``X-Image-Size-Safety``, ``Accept`` when the path has no extension. The rendering is in
:mod:`cytotile.annotations.output`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.annotations.geometry import (
    DRAWING_DEFAULTS,
    MASK_DEFAULTS,
    Annotation,
    Defaults,
    parse_annotations,
    parse_origin,
)
from cytotile.annotations.output import Framing, Mode, Style, envelope_window, render, window
from cytotile.api.annotations_doc import DOCS, POINT_CROSSES, WINDOW_PARAMS
from cytotile.api.errors import ImportUnavailable
from cytotile.api.http import image_response, make_etag, negotiate
from cytotile.api.routing import Later, context, route
from cytotile.api.thumbs import deferred, options
from cytotile.errors import BadParameter
from cytotile.pipeline import outputs
from cytotile.pipeline.args import Args
from cytotile.pipeline.encode import Output
from cytotile.pipeline.image import ImageView
from cytotile.pipeline.params import DEFAULT_PARAMS, ImageParams, parse_image_params
from cytotile.pipeline.regions import Target, WindowInput, parse_target


class AnnotationsUnavailable(ImportUnavailable):
    """shapely is not installed here (the ``annotation`` extra)."""

    title = "Annotations not available"


def require_shapely() -> None:
    try:
        import shapely  # noqa: F401
    except ImportError:
        raise AnnotationsUnavailable(
            "annotations need shapely (the `annotation` extra); on AWS they are served by the "
            "annotation function, under /annotation-api/"
        ) from None


def parse_style(args: Args, mode: Mode, raw: dict[str, object] | None = None) -> Style:
    """The style members: of the body (annotation routes) or of ``annotation_style``."""
    source = Args.from_json(raw) if raw is not None else args
    transparency = source.get_int("background_transparency", 0, 100)
    cross = (source.get_str("point_cross") or "CROSS").upper()
    if cross not in POINT_CROSSES:
        raise BadParameter(f"point_cross: {cross!r} is not one of {', '.join(POINT_CROSSES)}")
    envelope = source.get_float("point_envelope_length", 1.0, 1e6)
    return Style(
        mode,
        100 if transparency is None else transparency,
        cross,
        100.0 if envelope is None else envelope,
    )


def _annotations(request: Request, args: Args, view: ImageView, mode: Mode) -> list[Annotation]:
    require_shapely()
    origin = parse_origin(request.headers.get("x-annotation-origin"))
    defaults = {Mode.MASK: MASK_DEFAULTS, Mode.DRAWING: DRAWING_DEFAULTS}.get(mode, Defaults())
    return parse_annotations(
        args.raw("annotations"),
        origin=origin,
        l0_height=view.pyramid.base.height,
        defaults=defaults,
        keep_fill=mode is not Mode.CROP,
    )


def _raw_key(args: Args, request: Request) -> str:
    """The annotations as sent (and their origin), for the ETag."""
    origin = parse_origin(request.headers.get("x-annotation-origin"))
    return json.dumps([args.raw("annotations"), origin], sort_keys=True, default=str)


def _annotation_route(mode: Mode) -> Callable[[Request, Args], Response | Later]:
    def handler(request: Request, args: Args) -> Response | Later:
        ctx = context(request)
        fmt = negotiate(request.path_params.get("ext"), request.headers.get("accept"))
        target = parse_target(args, tiers=True)
        if mode is Mode.MASK:
            params = DEFAULT_PARAMS
        else:
            params = parse_image_params(args, general=mode is Mode.CROP)
        style = parse_style(args, mode)
        framing = Framing(
            args.get_float("context_factor", 1e-3, 1e3) or 1.0, bool(args.get_bool("try_square"))
        )
        opts = options(request, fmt)
        view = ImageView.open(ctx.storage, request.path_params["path"])
        annots = _annotations(request, args, view, mode)
        key = _raw_key(args, request)
        etag = make_etag("annotation", view.digest, style, framing, key, target, params, opts)
        win = envelope_window(view, annots, style, framing)
        plan = outputs.plan_window(view, win, target, params, opts)  # sized (or refused) first

        def build() -> Response:
            return image_response(render(view, win, plan, annots, style, params, opts))

        return deferred(request, etag, plan, build)

    handler.__name__ = f"annotation_{mode.value.lower()}"
    return handler


@dataclass(frozen=True)
class WindowAnnotations:
    """What a window body asks to draw; ``key`` goes into the window's ETag."""

    annotations: list[Annotation]
    style: Style
    key: str

    def render(
        self,
        view: ImageView,
        win: WindowInput,
        target: Target,
        params: ImageParams,
        opts: outputs.Options,
    ) -> Output:
        return window(view, win, target, params, opts, self.annotations, self.style)


def window_annotations(request: Request, args: Args, view: ImageView) -> WindowAnnotations | None:
    """A window's ``annotations`` and ``annotation_style`` (mode DRAWING when no style is
    given), or None when the body has no annotations."""
    if not args.has("annotations"):
        return None
    raw_style = args.raw("annotation_style")
    if raw_style is not None and not isinstance(raw_style, dict):
        raise BadParameter("annotation_style: an object {mode, ...} is expected")
    mode_name = str((raw_style or {}).get("mode") or "DRAWING").upper()
    try:
        mode = Mode(mode_name)
    except ValueError:
        modes = ", ".join(Mode)
        raise BadParameter(f"annotation_style.mode: {mode_name!r} is not one of {modes}") from None
    style = parse_style(args, mode, raw_style or {})
    annots = _annotations(request, args, view, mode)
    return WindowAnnotations(annots, style, _raw_key(args, request) + repr(style))


def routes() -> list[BaseRoute]:
    return [
        route(f"/image/{{path}}/annotation/{mode.value.lower()}{{ext}}", _annotation_route(mode),
              ("POST",), f"annotation_{mode.value.lower()}", doc=DOCS[mode])
        for mode in Mode
    ]  # fmt: skip


__all__ = ["WINDOW_PARAMS", "routes", "window_annotations"]
