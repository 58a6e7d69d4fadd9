"""ops.runtime: the garbage collector of a web process."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from unittest import mock

import pytest
from django.test import override_settings

from ops.runtime import MIDDLE_EVERY, OLD_EVERY, tune_garbage_collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)


@override_settings(BALROG_GC_THRESHOLD=12345)
def test_it_freezes_start_up_objects_and_collects_less_often(restored_gc: None) -> None:
    gc.unfreeze()
    tune_garbage_collector()
    assert gc.get_freeze_count() > 1000  # the loaded application
    assert gc.get_threshold() == (12345, MIDDLE_EVERY, OLD_EVERY)


@override_settings(BALROG_GC_THRESHOLD=0)
def test_it_leaves_pythons_defaults_when_turned_off(restored_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    # Not the freeze count: frozen objects freed by reference counting lower it.
    with mock.patch("ops.runtime.gc.freeze") as freeze:
        tune_garbage_collector()
    assert gc.get_threshold() == (700, 10, 10)
    freeze.assert_not_called()
