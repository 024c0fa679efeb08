"""Drift alerts: a message to a Discord webhook (`DISCORD_WEBHOOK_URL`), or a clear log line without one."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping

logger = logging.getLogger("spacesuite.alerts")
DISCORD_LIMIT = 2000  # characters in one Discord message
TIMEOUT_S = 10


def discord_payload(message: str) -> bytes:
    """The webhook body: the message (cut to Discord's limit), mentioning nobody."""
    content = message if len(message) <= DISCORD_LIMIT else message[: DISCORD_LIMIT - 1] + "…"
    return json.dumps({"content": content, "allowed_mentions": {"parse": []}}).encode("utf-8")


def send_alert(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Post `message` to `DISCORD_WEBHOOK_URL` when it is set; log it either way.

    Returns True when Discord accepted it. A failed post is logged (without the URL, which is a secret) and never
    raised: the drift job's exit status already tells a scheduler that something is wrong.
    """
    logger.warning("DRIFT ALERT: %s", message)
    url = environ.get("DISCORD_WEBHOOK_URL", "").strip()
    if not url:
        logger.warning("DISCORD_WEBHOOK_URL is not set: the alert above went to this log only")
        return False
    request = urllib.request.Request(
        url,
        data=discord_payload(message),
        headers={"Content-Type": "application/json", "User-Agent": "spacesuite-drift"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            accepted = 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "code", None) or getattr(error, "reason", None) or type(error).__name__
        logger.error("the Discord alert was not delivered: %s", reason)
        return False
    if not accepted:
        logger.error("the Discord alert was not delivered: HTTP %s", response.status)
    return accepted
