"""Concurrent writers on one draft: exactly one of a racing pair wins, and no update is lost."""

from __future__ import annotations

import threading
from collections import Counter

from flask import Flask

from .conftest import ALICE, URL

THREADS = 20
ROUNDS = 8


def _run(app: Flask, worker: object) -> None:
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def test_conditional_writers_final_version_equals_successes(autosave_app: Flask) -> None:
    """20 threads doing read-then-write with If-Match: version == number of 200s, rest 412."""
    autosave_app.test_client().put(URL, json={"n": 0}, headers=ALICE)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = autosave_app.test_client()
        for round_ in range(ROUNDS):
            version = client.get(URL, headers=ALICE).get_json()["version"]
            response = client.put(
                URL,
                json={"n": index, "round": round_},
                headers={**ALICE, "If-Match": f'"{version}"'},
            )
            with lock:
                statuses[response.status_code] += 1

    _run(autosave_app, worker)
    assert set(statuses) <= {200, 412}, statuses
    final = autosave_app.test_client().get(URL, headers=ALICE).get_json()["version"]
    assert final == 1 + statuses[200]
    assert statuses[200] >= ROUNDS  # someone always wins a round


def test_unconditional_merge_patches_lose_nothing(autosave_app: Flask) -> None:
    """20 threads each patching their own member: every member survives, one version each."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = autosave_app.test_client()
        for round_ in range(ROUNDS):
            response = client.patch(URL, json={f"t{index}": round_}, headers=ALICE)
            with lock:
                statuses[response.status_code] += 1

    _run(autosave_app, worker)
    assert statuses == {200: THREADS * ROUNDS}
    body = autosave_app.test_client().get(URL, headers=ALICE).get_json()
    assert body["version"] == THREADS * ROUNDS
    assert body["payload"] == {f"t{i}": ROUNDS - 1 for i in range(THREADS)}
