"""Which implementation computes crafter's terrain noise: numba or pure Python.

Crafter generates each world from opensimplex noise, tens of thousands of
``noise3`` calls per reset. opensimplex compiles them with numba when numba
can be imported, and falls back to plain Python otherwise; both give the same
floats, hence the same worlds (tests/games/test_crafter.py checks it).

Measured on the shared 2-core dev box (crafter 1.8.3, numba 0.68; ranges
span a quiet and a busy machine), per process that loads crafter:

=======  ===========  ==============================================  ============
backend  warm reset   first reset                                     extra RSS
=======  ===========  ==============================================  ============
numba    55-160 ms    0.2-0.7 s with numba's on-disk JIT cache,       ~+105-120 MB
                      1.5-3.5 s when it must compile
python   0.8-2 s      the same                                        ~+20 MB
=======  ===========  ==============================================  ============

Numba is the default when it is installed. Set ``BALROG_CRAFTER_NUMBA=0`` in a
process's environment to trade the faster resets for ~100 MB less memory; the
choice is made once, when this package is first imported, and cannot change
the worlds or any recorded replay.
"""

from __future__ import annotations

import importlib
import os
import sys

NUMBA_ENV_VAR = "BALROG_CRAFTER_NUMBA"
_OFF_VALUES = frozenset({"0", "false", "no", "off"})


def numba_requested() -> bool:
    return os.environ.get(NUMBA_ENV_VAR, "1").strip().lower() not in _OFF_VALUES


def load_noise_backend() -> str:
    """Import opensimplex (before crafter does) and say which backend it uses.

    To run without numba, numba is hidden from the import system only while
    opensimplex itself is imported, then restored: other packages in the
    process can still use numba."""
    if "opensimplex.internals" not in sys.modules and not numba_requested():
        missing = object()
        saved = sys.modules.get("numba", missing)
        sys.modules["numba"] = None  # type: ignore[assignment]  # makes `import numba` raise ImportError
        try:
            importlib.import_module("opensimplex")
        finally:
            if saved is missing:
                del sys.modules["numba"]
            else:
                sys.modules["numba"] = saved  # type: ignore[assignment]
    internals = importlib.import_module("opensimplex.internals")
    return "numba" if hasattr(internals._noise3, "py_func") else "python"
