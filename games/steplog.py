"""Writing one step: the compare-and-swap on ``Episode.steps`` and the INSERT
of the ``Step`` row, as one atomic unit.

This is the hottest write of the project (every keypress of every player,
every model step), so it has two shapes with the same meaning:

- PostgreSQL: one prepared statement, ``WITH won AS (UPDATE ... RETURNING)
  INSERT ... SELECT FROM won``. A single statement is atomic on its own, so outside a
  transaction it is one round trip instead of four (BEGIN, UPDATE, INSERT,
  COMMIT) and no autocommit toggling; inside a caller's transaction it joins it.
- Anything else (SQLite has no DML in a WITH clause): the same UPDATE then the
  INSERT in ``transaction.atomic()``.

Both return ``None`` when the compare-and-swap loses (another writer applied
this index, or the episode is no longer running): nothing was written.
Columns and value conversions come from the models' own fields, so a field
added to ``Step`` or ``Episode`` needs no change here beyond its value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypedDict

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from balrogweb.profile import is_postgresql
from games.base import RawAction
from games.jsontypes import JSONObject
from games.models import Episode, Step

# ``Episode.last_activity_at`` (for the idle sweep) moves at most this often.
# It is indexed: changing it on every step would make every step's UPDATE add
# an entry to each of the episode's indexes; left alone, most steps change no
# indexed column and PostgreSQL rewrites the row in place (a HOT update).
ACTIVITY_RESOLUTION = timedelta(seconds=10)

# SQLite has one writer at a time, and a writer that finds the database locked
# sleeps in SQLite's busy handler (1, 2, 5, 10... ms). Step writers of this
# process queue on a lock instead and go the moment it is free. It covers the
# write only: held across the env step and the early frame's send as well, it
# made every player of the process wait for each other's games.
_sqlite_writer = threading.Lock()


class EpisodeFields(TypedDict, total=False):
    """The Episode columns a step moves: always ``steps``, ``progression`` and
    ``episode_return``; the rest when the step ends the episode."""

    steps: int
    progression: float
    episode_return: float
    status: str
    end_reason: str
    end_detail: str
    ended_at: datetime


class StepFields(TypedDict):
    """A Step row's values besides its episode, index and time."""

    action: str
    raw_input: str
    valid: bool
    executed: list[RawAction]
    reward: float
    progression: float
    done: bool
    digest: str
    server_ms: float
    meta: JSONObject


def write_step(episode_id: int, index: int, episode_fields: EpisodeFields, step_fields: StepFields) -> Step | None:
    """Move the episode from ``index`` to ``episode_fields``, mark it active
    and log the step, or do nothing and return None if it is not at ``index``
    and running."""
    now = timezone.now()
    step = Step(episode_id=episode_id, index=index, created_at=now, **step_fields)
    if is_postgresql(connection):
        return _write_in_one_statement(episode_id, index, episode_fields, step, now)
    with _sqlite_writer:
        return _write_in_a_transaction(episode_id, index, episode_fields, step, now)


def _write_in_a_transaction(
    episode_id: int, index: int, episode_fields: EpisodeFields, step: Step, now: datetime
) -> Step | None:
    """The same two statements as SQL text built once per field set: the
    ORM's update and save compiled them anew on every step (a third of the
    step's Python time on SQLite)."""
    names = tuple(sorted(episode_fields))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_cas_sql(names), _cas_params(episode_id, index, names, episode_fields, now))
        if cursor.rowcount != 1:
            return None
        cursor.execute(_insert_sql(), [episode_id, *_step_params(step)])
        step.pk = cursor.lastrowid
    step._state.adding = False
    step._state.db = connection.alias
    return step


def _write_in_one_statement(
    episode_id: int, index: int, episode_fields: EpisodeFields, step: Step, now: datetime
) -> Step | None:
    names = tuple(sorted(episode_fields))
    params = _cas_params(episode_id, index, names, episode_fields, now) + _step_params(step)
    connection.ensure_connection()
    # A server-side-bound, prepared statement on the raw psycopg connection:
    # Django's cursors bind client-side (every value escaped into the SQL text,
    # re-parsed and re-planned by PostgreSQL on every step). Django's error
    # wrapping stays, so a failure marks the connection for the usual hygiene.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_cas_and_insert_sql(names), params, prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None
    step.pk = row[0]
    step._state.adding = False
    step._state.db = connection.alias
    return step


# The Step columns written besides episode_id (taken from the UPDATE's RETURNING).
_STEP_VALUE_FIELDS = tuple(
    field.name for field in Step._meta.concrete_fields if not field.primary_key and field.name != "episode"
)


def _cas_params(
    episode_id: int, index: int, names: tuple[str, ...], episode_fields: Mapping[str, object], now: datetime
) -> list[Any]:
    params = [_db_value(Episode, name, episode_fields[name]) for name in names]
    params += [_db_value(Episode, "last_activity_at", value) for value in (now - ACTIVITY_RESOLUTION, now)]
    return [*params, episode_id, index, Episode.Status.RUNNING.value]


def _step_params(step: Step) -> list[Any]:  # the database driver's values
    return [_db_value(Step, name, getattr(step, name)) for name in _STEP_VALUE_FIELDS]


def _db_value(model: type[Episode] | type[Step], name: str, value: object) -> Any:
    return model._meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]


@cache
def _cas_sql(episode_field_names: tuple[str, ...]) -> str:
    """The compare-and-swap: parameters as _cas_params orders them."""
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(_column(Episode, name))} = %s" for name in episode_field_names)
    touched = quote(_column(Episode, "last_activity_at"))
    sets += f", {touched} = CASE WHEN {touched} < %s THEN %s ELSE {touched} END"
    return (
        f"UPDATE {quote(Episode._meta.db_table)} SET {sets}"
        f" WHERE {quote('id')} = %s AND {quote('steps')} = %s AND {quote('status')} = %s"
    )


@cache
def _insert_sql() -> str:
    """The step's INSERT: the episode id, then _step_params."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(Step, name)) for name in _STEP_VALUE_FIELDS)
    values = ", ".join("%s" for _ in _STEP_VALUE_FIELDS)
    return f"INSERT INTO {quote(Step._meta.db_table)} ({quote('episode_id')}, {columns}) VALUES (%s, {values})"


@cache
def _cas_and_insert_sql(episode_field_names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(Step, name)) for name in _STEP_VALUE_FIELDS)
    values = ", ".join("%s" for _ in _STEP_VALUE_FIELDS)
    return (
        f"WITH won AS ({_cas_sql(episode_field_names)} RETURNING {quote('id')})"
        f" INSERT INTO {quote(Step._meta.db_table)} ({quote('episode_id')}, {columns})"
        f" SELECT won.{quote('id')}, {values} FROM won"
        f" RETURNING {quote(Step._meta.db_table)}.{quote('id')}"
    )


def _column(model: type[Episode] | type[Step], name: str) -> str:
    column = model._meta.get_field(name).column  # type: ignore[union-attr]
    assert isinstance(column, str)
    return column
