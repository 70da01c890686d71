"""The store the suite runs against: ``--store=sqlite`` (the default) or ``--store=postgres``.

Under ``--store=postgres`` every `Settings` the tests build for a data directory,
without a ``DATABASE_URL`` of their own, is pointed at the test database, in a
schema named after that directory (see ``tests/stores.py``); processes the tests
start get the same through `tests.stores.store_environ`. Without a reachable
server, every test of that run is skipped, and the reason is printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from logbook.config import Settings
from logbook.store import postgres_unreachable
from tests.stores import POSTGRES_URL, STORES, TestStore, drop_test_schemas, ensure_schema, schema_for


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--store", choices=STORES, default="sqlite", help="the event store the suite runs against")


def pytest_configure(config: pytest.Config) -> None:
    TestStore.kind = config.getoption("--store")
    config.addinivalue_line("markers", "sqlite_only(reason): the test is about SQLite itself")
    config.addinivalue_line("markers", "postgres_only: the test is about PostgreSQL itself")


def pytest_report_header(config: pytest.Config) -> str:
    return f"store: {TestStore.kind}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not TestStore.is_postgres():
        for item in items:
            if item.get_closest_marker("postgres_only"):
                item.add_marker(pytest.mark.skip(reason="PostgreSQL only: runs under --store=postgres"))
        return
    unreachable = postgres_unreachable(POSTGRES_URL)
    for item in items:
        if unreachable:
            item.add_marker(pytest.mark.skip(reason=unreachable))
        elif marker := item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {marker.args[0] if marker.args else ''}"))


@pytest.fixture(scope="session", autouse=True)
def _test_schemas() -> Iterator[None]:
    """Drops the test schemas left by an earlier run before this one, and its own after it."""
    if not TestStore.is_postgres() or postgres_unreachable(POSTGRES_URL):
        yield
        return
    drop_test_schemas()
    yield
    drop_test_schemas()


@pytest.fixture(scope="session", autouse=True)
def _settings_on_test_store() -> Iterator[None]:
    """Under ``--store=postgres``, settings without a database of their own use the test database.

    Session-wide, so that settings made by fixtures of any scope are on it too.
    """
    if not TestStore.is_postgres():
        yield
        return
    original = Settings.__init__

    def on_test_store(self: Settings, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.database_url is None:
            object.__setattr__(self, "database_url", POSTGRES_URL)
            object.__setattr__(self, "database_schema", schema_for(self.data_dir))
            object.__setattr__(self, "postgres_pool_size", 1)  # hundreds of stores, one server
            ensure_schema(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Settings, "__init__", on_test_store)
        yield
