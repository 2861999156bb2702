"""Database plumbing for the hot statements, shared by every app: it imports no app.

Which database the hub writes for (`is_postgresql`, the one place that asks the vendor),
prepared statements on one kept cursor (`hot_cursor`), model instances built without
`__init__` (`loaded_instance`, `new_instance`, `mark_saved`), array literals and column
limits (`char_max_length`).
"""

import re
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cache

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.base import ModelState


@cache
def is_postgresql() -> bool:
    """Whether the default database is PostgreSQL, asked once per process.

    PostgreSQL gets the set-based statements, row locks and advisory locks; anything else
    (SQLite, the embedded default) the portable versions. Every such choice asks this
    (stock's write backend, the connectors' outbox, job locks and fast inbound path)."""
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


# psycopg prepares a statement after this many runs; ours ask for it on the first.
NEVER_BY_COUNT = 2**31 - 1


def hot_cursor():
    """A cursor for the few statements every order and stock change runs (PostgreSQL).

    Its statements are bound server-side and prepared on first use, once per connection:
    planning the multi-table statements of the write path cost more than running them
    (2 ms against 1 ms for the order's locking read). Django's own cursors prepare nothing,
    to keep transaction-pooling PgBouncers working; HUB_PREPARED_STATEMENTS=0 does the same
    here.

    One psycopg cursor serves every hot statement on its connection: a new cursor per
    statement cost a tenth of a millisecond of client CPU each time, about half of what
    sending the order's statement and reading its answer cost, mostly in finding again
    how to send each parameter type.

    Used as `with hot_cursor() as cursor:`. The kept cursor is not closed when the block
    ends; it comes in a `nullcontext`, cheaper per statement than a generator.
    """
    if not settings.HUB_PREPARED_STATEMENTS:
        return connection.cursor()  # closed when the `with` block ends
    database = connections[DEFAULT_DB_ALIAS]
    database.ensure_connection()
    raw = database.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off per connection; only cursors that ask (ours) prepare
        # again, as Django's client-side binding cursors never do.
        raw.prepare_threshold = NEVER_BY_COUNT
    # With the connection pool, a thread's cursor is reused when the pool hands the thread
    # the same connection again; that connection is then the thread's alone.
    cursor = getattr(database, "hub_hot_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = database.hub_hot_cursor = PreparingCursor(raw)
    # Wrapped like Django's own cursors, so query logging and execute_wrapper still see it;
    # the wrapper is not closed on the way out, as closing would close the cursor.
    return nullcontext(database._prepare_cursor(cursor))


class PreparingCursor(psycopg.Cursor):
    """A psycopg cursor that prepares every statement it runs."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def loaded_instance(model, alias: str, attnames: Sequence[str], values: Sequence):
    """A model instance as `Model.from_db` builds it, without running `__init__`.

    `__init__` cost 18 µs per row, most of a 10,000-level lock; this costs about 2. The
    fields left out stay deferred and load on first access, as with `.only()`. Safe here
    because the project has no post_init receivers (STYLE.md: no signals).
    """
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    state = ModelState()
    state.adding = False
    state.db = alias
    instance._state = state
    return instance


def new_instance(model, values: dict, related: dict | None = None):
    """An unsaved model instance as `model(**values)` builds it, without running `__init__`.

    For the rows every order writes: `__init__` cost an order about 15 µs per instance.
    `values` are by attname (`channel_id`, not `channel`) and must name every field that has
    no default; `related` holds objects already in hand for foreign keys, cached as
    `__init__` caches them. Safe for the same reason as `loaded_instance`.
    """
    defaults, required = _defaults_of(model)
    if not required <= values.keys():
        missing = required - values.keys()
        raise TypeError(f"{model.__name__} needs {', '.join(sorted(missing))}")
    instance = model.__new__(model)
    instance.__dict__.update(defaults)
    instance.__dict__.update(values)
    instance._state = ModelState()
    if related:
        instance._state.fields_cache.update(related)
    return instance


@cache
def _defaults_of(model) -> tuple[dict, frozenset[str]]:
    """The model's fields' defaults by attname, and the attnames that have none."""
    defaults = {}
    required = set()
    for model_field in model._meta.concrete_fields:
        if model_field.has_default() and callable(model_field.default):
            raise TypeError(f"{model.__name__}.{model_field.name} has a default to call each time")
        if model_field.has_default() or model_field.null or model_field.primary_key:
            defaults[model_field.attname] = model_field.get_default()
        else:
            required.add(model_field.attname)
    return defaults, frozenset(required)


def mark_saved(instance, pk: int, alias: str | None = None) -> None:
    """Make an instance written by raw SQL look as `save()` leaves it."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = alias or connection.alias


def char_max_length(model: type[models.Model], name: str) -> int:
    """A CharField's max_length, to check input against before it reaches the database.

    Raises TypeError (at import, where the limits are looked up) for any other field:
    only a CharField's limit is known to be a number.
    """
    model_field = model._meta.get_field(name)
    if not isinstance(model_field, models.CharField) or model_field.max_length is None:
        raise TypeError(f"{model.__name__}.{name} is not a CharField with a max_length")
    return model_field.max_length


def array_literal(ids: list[int]) -> str:
    """A PostgreSQL array literal of integers: cheaper to send than one bound int each."""
    return "{" + ",".join(map(str, ids)) + "}"


def choice_literal(choice) -> str:
    """A model choice's value as an SQL literal, for constants written into a statement
    rather than sent with every run (each parameter costs the client a conversion)."""
    value = str(choice.value)
    if not re.fullmatch(r"[a-z_]+", value):
        raise ValueError(f"{value!r} is not a plain choice value")
    return f"'{value}'"
