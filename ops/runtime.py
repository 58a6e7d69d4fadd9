"""Process-wide tuning of a web server process (called by balrogweb.asgi).

Python's cyclic garbage collector stops the whole process while it runs. With
its default thresholds (700, 10, 10), a web process under 100 websocket
players ran a full (generation 2) collection every ~13 s, and each took
50-150 ms over the ~130,000 objects the process tracks (Django, the game
packages, live sessions): every message in flight waited, which made most of
the 99th percentile of keypress-to-frame (bench/ws_load.py).

So, once the application is loaded:
- ``gc.freeze()`` moves everything alive to a permanent generation the
  collector never scans again: modules, settings, URL patterns, templates,
  live for the life of the process anyway. Only objects made later are
  scanned, which is why this happens once, at start-up, and never again:
  a frozen object that later became cyclic garbage would never be freed.
- a higher generation-0 threshold (BALROG_GC_THRESHOLD allocations instead
  of 700) and rarer older collections. Garbage held only by reference counts
  (most of it) is still freed at once; cyclic garbage waits longer, bounded
  by these thresholds.
"""

from __future__ import annotations

import gc

from django.conf import settings

# Older generations: collected every 20 young / 100 middle collections
# (Python's default is 10 and 10), so a full collection is rare.
MIDDLE_EVERY, OLD_EVERY = 20, 100


def tune_garbage_collector() -> None:
    threshold = int(settings.BALROG_GC_THRESHOLD)
    if threshold <= 0:  # 0: Python's own defaults
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, MIDDLE_EVERY, OLD_EVERY)
