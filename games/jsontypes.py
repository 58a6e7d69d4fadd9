"""JSON as it travels: reset facts and adapter options stored with an episode,
frames and HUDs sent to the browser, log records written to disk.

The containers are the read-only ``Sequence`` and ``Mapping`` so that a
``list[str]`` or a ``dict[str, int]`` is a JSON value as it stands (``list``
and ``dict`` are invariant in their items). A tuple counts as an array: the
project's encoders (json, orjson) write it as one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

JSONScalar = str | int | float | bool | None
JSONValue = JSONScalar | Sequence["JSONValue"] | Mapping[str, "JSONValue"]
JSONObject = dict[str, JSONValue]
