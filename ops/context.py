"""Request and episode ids for log records, carried in contextvars.

A contextvar follows the code that handles one request or one websocket
connection, across ``await`` and into ``sync_to_async``/executor threads that
copy the context, so every log line written while serving it names it.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("balrog_request_id", default="")
episode_id: ContextVar[str] = ContextVar("balrog_episode_id", default="")

# A client-supplied X-Request-ID is kept only when it is short and plain, so a
# log line can never be forged or bloated through the header.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id(offered: str | None = None) -> str:
    if offered and _SAFE_ID.match(offered):
        return offered
    return uuid.uuid4().hex


_EPISODE_PATH = re.compile(r"/(?:episodes|ws/episodes)/(\d+)(?:/|\.|$)")


def episode_from_path(path: str) -> str:
    """The episode id named by a URL path ('' when none)."""
    match = _EPISODE_PATH.search(path)
    return match.group(1) if match else ""
