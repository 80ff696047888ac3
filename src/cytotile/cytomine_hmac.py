"""Cytomine's request signature (standard library only: the serving side checks it, the import
side signs its calls to a core): base64(HMAC-SHA1(private key, text)), the text being
``<METHOD>\\n<content-MD5>\\n<content-type>\\n<date>\\n<path and query>``."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(private_key: str, text: str) -> str:
    digest = hmac.new(private_key.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def text_to_sign(method: str, md5: str, content_type: str, date: str, target: str) -> str:
    """``target``: the path, with ``?<query>`` when there is one."""
    return f"{method}\n{md5}\n{content_type}\n{date}\n{target}"


def parse_keys(text: str) -> dict[str, str]:
    """``public:private,...`` as {public: private}."""
    keys = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        public, sep, private = pair.strip().partition(":")
        if not sep or not public.strip() or not private.strip():
            raise ValueError("Cytomine keys: public:private pairs are expected")
        keys[public.strip()] = private.strip()
    return keys
