"""The key store and the sealing of notes: one key per client, bound notes, destruction without a trace."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag

from logbook.keys import KeyStore, KeyStoreError
from logbook.notes import Notes

MASTER = b"m" * 32


@pytest.fixture
def keys(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3", MASTER)
    yield store
    store.close()


def test_a_client_has_one_key_until_it_is_destroyed_then_a_new_one(keys):
    client_id = uuid4()

    first, again = keys.key_for_sealing(client_id), keys.key_for_sealing(client_id)
    assert keys.destroy(client_id)
    after = keys.key_for_sealing(client_id)

    assert first == again
    assert after.key_id != first.key_id and after.key != first.key
    assert keys.key(client_id, first.key_id) is None
    assert keys.key(client_id, after.key_id) == after.key


def test_processes_racing_for_a_new_client_agree_on_one_key(tmp_path):
    client_id = uuid4()
    stores = [KeyStore(tmp_path / "keys.sqlite3", MASTER) for _ in range(4)]
    try:
        with ThreadPoolExecutor(8) as pool:
            keys = list(pool.map(lambda n: stores[n % 4].key_for_sealing(client_id), range(32)))
    finally:
        for store in stores:
            store.close()

    assert len({key.key_id for key in keys}) == 1


def test_destroying_a_client_without_a_key_reports_it(keys):
    assert keys.destroy(uuid4()) is False


def test_another_master_key_opens_no_data_key(tmp_path, keys):
    client_id = uuid4()
    key = keys.key_for_sealing(client_id)
    other = KeyStore(tmp_path / "keys.sqlite3", b"o" * 32)
    try:
        with pytest.raises(KeyStoreError) as raised:
            other.key(client_id, key.key_id)
    finally:
        other.close()
    assert key.key.hex() not in str(raised.value)


def test_a_sealed_note_opens_only_for_its_own_contact(keys):
    notes = Notes(keys)
    sealed = notes.seal(uuid4(), uuid4(), "Afspraak bij het OCMW op maandag.")

    assert notes.open(sealed) == "Afspraak bij het OCMW op maandag."
    assert "OCMW" not in sealed.sealed
    with pytest.raises(InvalidTag):
        notes.open(replace(sealed, contact_id=uuid4()))


def test_a_note_of_a_destroyed_key_opens_as_nothing(keys):
    notes = Notes(keys)
    sealed = notes.seal(client_id := uuid4(), uuid4(), "Tekst.")

    keys.destroy(client_id)

    assert notes.open(sealed) is None
