"""What each process holds for its lifetime, in one registry.

Every long-lived per-process object (thread pools, live games, replay
cursors, caches, rate limiters, the broadcaster, the lease keeper) is a
``ProcessSingleton`` built on first use from settings and listed here by
name, so one place says what a process holds (docs/architecture.md), and
tests that change settings forget them in one call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_REGISTRY: dict[str, ProcessSingleton[object]] = {}
_REGISTRY_GUARD = threading.Lock()


class ProcessSingleton(Generic[T]):
    """One object per process, built on first use.

    Double-checked: the common path (already built) takes no lock; the lock
    only keeps two first callers from building two objects."""

    def __init__(self, name: str, build: Callable[[], T]) -> None:
        self.name = name
        self._build = build
        self._value: T | None = None
        self._guard = threading.Lock()
        with _REGISTRY_GUARD:
            if name in _REGISTRY:
                raise ValueError(f"two process singletons named {name!r}")
            _REGISTRY[name] = self  # type: ignore[assignment]  # the registry holds every T

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._guard:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    def peek(self) -> T | None:
        """The object if it was built, without building it."""
        return self._value

    def take(self) -> T | None:
        """Forget the object and return it (None if never built); the next
        ``get`` builds a new one."""
        with self._guard:
            value, self._value = self._value, None
        return value


def singletons() -> dict[str, ProcessSingleton[object]]:
    """Every process singleton declared so far (a module declares its own on import), by name."""
    with _REGISTRY_GUARD:
        return dict(_REGISTRY)


def built() -> list[str]:
    """The names of the singletons this process has built."""
    return sorted(name for name, singleton in singletons().items() if singleton.peek() is not None)
