"""Replay an action log in this process and print the digests.

    python -m games.replaycheck < log.json

The log is ``{"env", "task", "seed", "options", "steps": [[raw, ...], ...]}``.
Prints one JSON object: ``{"reset": {...}, "digests": [initial, after step 1,
...], "progression": [...], "end_reason": ...}``. Tests run it in a fresh
subprocess to prove a log replays to the same states outside the process
(and the day) that recorded it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any


def replay_log(log: dict[str, Any]) -> dict[str, Any]:
    from games.registry import make_adapter

    adapter = make_adapter(log["env"], log["task"], log.get("options") or {})
    try:
        reset_info = adapter.reset(int(log["seed"]))
        digests = [adapter.digest()]
        progression = []
        steps: Sequence[Sequence[Any]] = log["steps"]
        for executed in steps:
            result = adapter.replay(list(executed))
            digests.append(adapter.digest())
            progression.append(result.progression)
        end = adapter.end_reason.value if adapter.end_reason else None
        return {"reset": reset_info, "digests": digests, "progression": progression, "end_reason": end}
    finally:
        adapter.close()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")
    import django

    django.setup()
    print(json.dumps(replay_log(json.load(sys.stdin))))


if __name__ == "__main__":
    main()
