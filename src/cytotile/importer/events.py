"""Import events: every step emits one at its start and one at its end or failure.

A log listener always listens; others (a webhook, a Cytomine core, an SNS topic, the manifest's
history) are added by configuration (``configured``).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from cytotile.manifest import now

log = logging.getLogger("cytotile.import")


@dataclass(frozen=True)
class ImportEvent:
    upload_id: str
    step: str  # a Status name: DETECTING_FORMAT, CONVERTING, ...
    phase: str  # start | end | failure
    at: str = field(default_factory=now)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Listener(Protocol):
    def __call__(self, event: ImportEvent) -> None: ...


def log_listener(event: ImportEvent) -> None:
    level = logging.WARNING if event.phase == "failure" else logging.INFO
    log.log(
        level,
        "%s %s %s",
        event.upload_id,
        event.step,
        event.phase,
        extra={"upload_id": event.upload_id, "details": event.details},
    )


class WebhookListener:
    """POST each event as JSON; a listener that fails never fails the import."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def __call__(self, event: ImportEvent) -> None:
        body = json.dumps(event.to_dict()).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s):
                pass
        except OSError as exc:
            log.warning("webhook %s failed: %s", self.url, exc)


def configured(settings: Any) -> list[Listener]:
    """The listeners ``settings`` (an ImportSettings) asks for: a webhook. (A Cytomine core's
    listener is the upload route's, once the upload is registered there: core_callback.py.)"""
    found: list[Listener] = []
    if settings.webhook_url:
        found.append(WebhookListener(settings.webhook_url))
    return found


class Emitter:
    def __init__(self, listeners: Iterable[Listener]) -> None:
        self.listeners = [log_listener, *listeners]

    def emit(self, event: ImportEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not break the import
                log.exception("import event listener failed")
