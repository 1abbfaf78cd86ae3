"""A flaky API: every fault at once still gives every row its list, created exactly once.

The sandbox injects ERR_9xx, HTTP 5xx, hangs longer than the client's timeout, dropped
connections and lost answers (the list is created, the answer never arrives) in the same run;
garbled answers must come back as clear row failures, never a crash.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from importer.sandbox import DEMO_ID, DEMO_KEY, Fault, FaultPlan, SandboxServer
from tests.conftest import read_results, write_csv

#: Shares of the create requests that go wrong, together: 60 % of all attempts fail.
EVERY_FAULT = FaultPlan(
    error_9xx_rate=0.30,
    http_5xx_rate=0.10,
    timeout_rate=0.05,
    hang_seconds=2.0,
    drop_rate=0.05,
    lost_answer_rate=0.10,
    seed=2024,
)


def test_2000_rows_through_every_fault_at_once_create_each_list_exactly_once(
    cli, api_env, tmp_path
):
    api_env.set_faults(EVERY_FAULT)
    rows = [(f"Flaky list {number:04d}", "FR") for number in range(2000)]
    # Blank lines are not rows: the results hold one row per non-blank input row.
    rows[500:500] = [("", ""), ("  ", " ")]
    source = write_csv(tmp_path / "in.csv", rows)
    result = cli(
        "run",
        source,
        "-o",
        "out.csv",
        "--workers",
        "8",
        "--rate",
        "0",
        "--timeout",
        "1",
        "--max-attempts",
        "20",
        # Short waits between retries keep this test quick; the retry logic is the same.
        "--backoff-initial",
        "0.02",
        "--backoff-max",
        "0.2",
    )
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    results = read_results(tmp_path / "out.csv")
    assert len(results) == 2000
    # Nothing existed before: every list is this run's, its answer lost or not.
    assert {row["outcome"] for row in results} == {"created"}
    ids = {name.casefold(): list_id for list_id, (name, _) in api_env.stats.lists.items()}
    assert all(row["list_contact_id"] == ids[row["name"].casefold()] for row in results)
    assert len(api_env.stats.created) == 2000
    assert set(api_env.stats.created.values()) == {1}
    faults = api_env.stats.faults
    assert all(faults[kind] > 0 for kind in ("error_9xx", "http_5xx", "timeout", "drop"))
    assert faults["lost_answer"] > 0
    assert any("confirmed by re-reading" in row["message"] for row in results)  # lost answers


#: What the row's message must say for each kind of garbled answer.
GARBAGE_MESSAGES = {
    "HTML": "HTML instead of JSON",
    "TRUNCATED_JSON": "truncated JSON",
    "NO_CODE": 'no "code"',
    "ERR_999X": "unknown code 'ERR_999X'",
}


def test_garbled_answers_are_clear_row_failures(cli, api_env, tmp_path):
    api_env.set_faults(FaultPlan(garbage_rate=1.0, seed=11))
    names = [f"Garbled {number}" for number in range(40)]
    source = write_csv(tmp_path / "in.csv", [(name, "FR") for name in names])
    result = cli("run", source, "-o", "out.csv", "--max-attempts", "2", "--rate", "0")
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert [row["name"] for row in rows] == names
    assert {(row["outcome"], row["code"], row["attempts"]) for row in rows} == {
        ("failed", "BAD_ANSWER", "2")
    }
    # Garbled answers may stand for a processed request: the account was re-read to be sure.
    assert all(
        row["message"].endswith(
            "after 2 attempts; not found on the account when re-read, so not created"
        )
        for row in rows
    )
    assert set(api_env.stats.answers) >= set(GARBAGE_MESSAGES)
    for answer, words in GARBAGE_MESSAGES.items():
        assert any(words in row["message"] for row in rows), answer
    assert all(any(words in row["message"] for words in GARBAGE_MESSAGES.values()) for row in rows)
    assert api_env.stats.created.total() == 0
    assert "40 failed" in result.stderr


class ScriptedSandbox(SandboxServer):
    """The sandbox with create faults scripted per list name and attempt, not drawn at random."""

    def __init__(self, script: Mapping[str, Sequence[Fault | None]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script = script
        self._attempts: Counter[str] = Counter()
        self._request = threading.local()  # each request is handled in its own thread
        count = self.stats.arrive

        def arrive(path: str, key: str | None, rate_limit: float, now: float) -> bool:
            self._request.key = key
            return count(path, key, rate_limit, now)

        self.stats.arrive = arrive  # type: ignore[method-assign]

    def draw(self, plan: FaultPlan, *, create: bool) -> tuple[Fault | None, int]:
        key = getattr(self._request, "key", None)
        if not create or key is None:
            return None, 0
        attempt = self._attempts[key]
        self._attempts[key] += 1
        faults = self.script.get(key, ())
        return (faults[attempt] if attempt < len(faults) else None), 0


def test_a_lost_answer_found_after_another_workers_re_read_is_still_found(
    cli, tmp_path, monkeypatch
):
    # "Taken" and "Taken too" exist on the account but are not reconciled: their creates answer
    # ERR_104 and the account is re-read, at most every few seconds. "Lost" times out while
    # "Taken too" waits for its re-read, then is created with its answer lost, then answers
    # ERR_104: the re-read that started before its creation cannot tell its id.
    script = {"lost": [Fault.TIMEOUT, Fault.LOST_ANSWER]}
    with ScriptedSandbox(
        script,
        faults=FaultPlan(hang_seconds=4.0),
        existing_lists=[("Taken", "FR"), ("Taken too", "FR")],
    ) as server:
        monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
        monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
        monkeypatch.setenv("AVOSMS_BASE_URL", server.url)
        source = write_csv(
            tmp_path / "in.csv", [("Taken", "FR"), ("Lost", "FR"), ("Taken too", "FR")]
        )
        result = cli(
            "run",
            source,
            "-o",
            "out.csv",
            "--no-reconcile",
            "--workers",
            "2",
            "--rate",
            "0",
            "--timeout",
            "3.5",
        )
        assert result.exit_code == 0, result.stderr
        rows = read_results(tmp_path / "out.csv")
        # "Lost" was created by this run (its answers were lost): created, not exists.
        assert [row["outcome"] for row in rows] == ["exists", "created", "exists"]
        ids = {name: list_id for list_id, (name, _) in server.stats.lists.items()}
        assert [row["list_contact_id"] for row in rows] == [
            ids["Taken"],
            ids["Lost"],
            ids["Taken too"],
        ]
        assert server.stats.create_requests["lost"] == 3
        assert server.stats.created == Counter({"lost": 1})
        assert server.stats.list_requests >= 3
