"""Many writers on one SQLite store, through two gunicorn workers: nothing lost, nothing twice."""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e

CONTACTS = 200
THREADS = 8
CLIENTS = 20
RACERS = 8
SERVER_ERROR_LINE = re.compile(r'" 5\d\d ')
"""An access log line with a 5xx status (see `access_log_format` in logbook.gunicorn_config)."""


def test_200_contacts_from_8_threads_are_all_answered_201_stored_once_and_readable(server, worker):
    batch = uuid.uuid4().hex[:8]
    bodies = [worker.contact(f"client-{batch}-{n % CLIENTS}", minutes_ago=n % 60) for n in range(CONTACTS)]
    events_before = server.count_events()
    log_before = len(server.log())

    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(lambda body: server.post("/api/v1/contacts", worker.token, body), bodies))

    assert Counter(r.status_code for r in responses) == {201: CONTACTS}, [r.text for r in responses if r.status_code != 201][:3]
    receipts = [r.json() for r in responses]
    assert len({r["contact_id"] for r in receipts}) == CONTACTS
    assert len({r["position"] for r in receipts}) == CONTACTS
    clients_of_refs = {(body["client_ref"], receipt["client_id"]) for body, receipt in zip(bodies, receipts, strict=True)}
    assert len(clients_of_refs) == CLIENTS  # one client id per ref, whichever worker derived it
    # Every contact is one event; every new client adds one more. Nothing else, nothing twice.
    assert server.count_events() == events_before + CONTACTS + CLIENTS
    with ThreadPoolExecutor(THREADS) as pool:
        read_back = list(pool.map(lambda r: server.get(f"/api/v1/contacts/{r['contact_id']}", worker.token), receipts))
    assert [r.status_code for r in read_back] == [200] * CONTACTS
    for receipt, response in zip(receipts, read_back, strict=True):
        assert response.json()["client_id"] == receipt["client_id"]
        assert response.json()["history"][0]["position"] == receipt["position"]
    _assert_the_log_shows_no_trouble(server.log()[log_before:])


def test_identical_requests_racing_with_one_contact_id_store_one_contact(server, worker):
    contact_id = uuid.uuid4()
    body = worker.contact(f"client-{contact_id.hex[:8]}", contact_id=str(contact_id), topics=["school"])
    start = threading.Barrier(RACERS)
    events_before = server.count_events()
    log_before = len(server.log())

    def post_at_once(_: int):
        start.wait(timeout=10)
        return server.post("/api/v1/contacts", worker.token, body)

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(post_at_once, range(RACERS)))

    assert sorted(r.status_code for r in responses) == [200] * (RACERS - 1) + [201], [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert responses[0].json()["contact_id"] == str(contact_id)
    assert server.count_events(contact_id) == 1
    assert server.count_events() == events_before + 2  # the contact, and its client met for the first time
    history = server.get(f"/api/v1/contacts/{contact_id}", worker.token).json()["history"]
    assert [entry["type"] for entry in history] == ["logged"]
    _assert_the_log_shows_no_trouble(server.log()[log_before:])


def _assert_the_log_shows_no_trouble(log: str) -> None:
    assert "database is locked" not in log
    assert "Traceback" not in log
    assert "unexpected" not in log  # api.errors logs an unexpected error's class, not its text
    assert not SERVER_ERROR_LINE.search(log), log
