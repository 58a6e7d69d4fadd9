"""balrogweb.ids: the one way ids from URLs, queries and forms become numbers."""

from __future__ import annotations

import pytest

from annotations.filters import EpisodeFilter
from annotations.forms import ExportForm
from balrogweb.ids import MAX_ID, BadId, IdConverter, parse_id, query_id


def test_it_converts_path_ids_within_the_database_range_only() -> None:
    converter = IdConverter()
    assert converter.to_python(str(MAX_ID)) == MAX_ID
    assert converter.to_python("0") == 0
    with pytest.raises(ValueError):
        converter.to_python(str(MAX_ID + 1))


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1.5", str(2**63), str(2**70), True, "١٢"])
def test_it_refuses_ids_no_row_can_have_with_a_readable_message(raw: object) -> None:
    with pytest.raises(BadId, match=r"run must be a whole number from 1 to 9223372036854775807"):
        parse_id(raw, "run")


def test_it_reads_query_ids() -> None:
    assert query_id({"run": " 12 "}, "run") == 12
    assert query_id({"run": ""}, "run") is None
    assert query_id({}, "run") is None


def test_it_explains_a_bad_filter_id_without_pythons_words() -> None:
    with pytest.raises(ValueError) as caught:
        EpisodeFilter.from_mapping({"run": "abc"})
    assert "invalid literal" not in str(caught.value)
    assert "run must be a whole number" in str(caught.value)


def test_it_shows_an_out_of_range_queue_id_next_to_the_field() -> None:
    form = ExportForm({"queue": str(2**63)})
    assert not form.is_valid()
    assert list(form.errors) == ["queue"]
