"""Client refs are never stored, logged or returned; tokens are kept only as digests."""

from __future__ import annotations

import json
import logging
import unicodedata
from pathlib import Path

from tests.stores import TestStore, stored_bytes

REF = "Zeldzame-Ref-Ωmega-4711"


def forms_of(secret: str) -> list[bytes]:
    """The byte strings that would betray ``secret`` in a file, in any likely encoding."""
    normalised = unicodedata.normalize("NFKC", secret.strip()).casefold()
    texts = {secret, normalised, json.dumps(secret)[1:-1], json.dumps(normalised)[1:-1]}
    return sorted({form for text in texts for form in (text.encode(), text.encode("utf-16-le"))})


def store_bytes(data_dir: Path) -> dict[str, bytes]:
    return stored_bytes(data_dir)


def test_a_client_ref_is_never_in_the_store_the_logs_or_the_responses(world, app, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    responses = [world.log_contact("ann", client_ref=REF, nature="help_question")]
    receipt = responses[0].get_json()
    responses.append(world.log_contact("carl", client_ref=f"  {REF.upper()} "))
    responses.append(world.post("/api/v1/clients/lookup", {"client_ref": REF}, who="bob"))
    responses.append(world.get(f"/api/v1/contacts/{receipt['contact_id']}", who="ann"))
    responses.append(world.follow_up("ann", receipt["client_id"]))
    responses.append(world.log_contact("ann", client_ref=REF, nature="therapy"))

    files = store_bytes(tmp_path)
    assert "postgres:logbook_events" in files if TestStore.is_postgres() else \
        {"logbook.sqlite3", "logbook.sqlite3-wal"} <= set(files)
    assert b"jonas-k" not in b"".join(files.values())  # no contact used the default ref
    for name, content in files.items():
        for form in forms_of(REF):
            assert form not in content, f"{form!r} found in {name}"
        assert b"zeldzame" not in content.lower(), name
    for response in responses:
        assert "zeldzame" not in response.get_data(as_text=True).casefold()
    assert "zeldzame" not in caplog.text.casefold()
    assert [response.status_code for response in responses] == [201, 201, 200, 200, 201, 422]


def test_a_client_ref_stays_out_of_the_store_after_it_is_closed(world, app, tmp_path):
    world.logged_contact("ann", client_ref=REF)

    app.extensions["logbook"].close()

    everything = b"".join(store_bytes(tmp_path).values())
    assert everything
    assert not any(form in everything for form in forms_of(REF))


def test_tokens_are_stored_only_as_digests(world, tmp_path):
    tokens = list(world.tokens.values())

    everything = b"".join(store_bytes(tmp_path).values())

    assert len(tokens) == 6
    for token in tokens:
        assert token.encode() not in everything
        assert token.split("_", 1)[-1].encode() not in everything
