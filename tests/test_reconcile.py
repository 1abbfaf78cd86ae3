"""The plan stage: rows matched to existing lists, and the account re-read's spacing."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from importer.client import AccountList
from importer.normalize import prepare
from importer.reconcile import AccountDirectory, account_index, created_before, mark_existing


def account(*lists: tuple[str, str, str]) -> list[AccountList]:
    return [AccountList(list_id, name, country, "", "0", "") for list_id, name, country in lists]


def planned(*rows: tuple[str, str]) -> pd.DataFrame:
    source = pd.DataFrame(
        {
            "row": range(2, 2 + len(rows)),
            "list_name": [name for name, _ in rows],
            "country": [country for _, country in rows],
        }
    )
    return prepare(source)


def test_account_lists_are_keyed_like_rows_normalized_and_ignoring_case():
    index = account_index(account(("7", "  Promo\u00a0 NOËL ", "fr")))
    assert list(index) == ["promo noël"]
    assert index["promo noël"].list_contact_id == "7"
    assert index["promo noël"].country_code == "FR"


def test_mark_existing_sets_id_and_warns_when_the_country_differs():
    frame = planned(("Promo Noël", "FR"), ("VIP", "DE"), ("New", "FR"))
    known = account_index(account(("7", "promo noël", "FR"), ("9", "vip", "BE")))
    assert mark_existing(frame, known) == 2
    assert frame["outcome"].tolist() == ["exists", "exists", "planned"]
    assert frame["list_contact_id"].tolist() == ["7", "9", ""]
    assert "BE" in frame.loc[1, "message"] and "DE" in frame.loc[1, "message"]
    assert "not" not in frame.loc[0, "message"]


def test_invalid_and_duplicate_rows_are_never_marked_existing():
    frame = planned(("Promo", "FR"), ("promo", "FR"), ("Promo", "Atlantis"))
    mark_existing(frame, account_index(account(("7", "Promo", "FR"))))
    assert frame["outcome"].tolist() == ["exists", "duplicate", "invalid"]


def test_re_reads_are_spaced_and_report_when_they_started():
    now = [100.0]
    fetched: list[float] = []

    def fetch() -> list[AccountList]:
        fetched.append(now[0])
        return account(("7", "Late", "FR"))

    directory = AccountDirectory(fetch, interval=3.0, clock=lambda: now[0])
    assert directory.wait_before_refresh() == 0.0
    directory.load([])
    assert directory.get("late") is None
    now[0] = 101.0
    assert directory.wait_before_refresh() == 2.0
    now[0] = 103.5
    assert directory.wait_before_refresh() == 0.0
    assert directory.refresh() == 103.5
    assert directory.get("late").list_contact_id == "7"
    assert fetched == [103.5] and directory.fetches == 1


RUN_START = datetime(2024, 5, 1, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("creation_date", "before"),
    [
        ("2024-05-01 21:54:59", True),  # more than the 5 minutes allowed for clock skew
        ("2024-05-01 21:56:00", False),  # within them: no evidence
        ("2024-05-01 22:30:00", False),
        ("2024-05-01T23:50:00+02:00", True),  # a date with its zone is read in that zone
        ("2024-04-30", True),
        ("01/05/2024 12:00", False),  # unreadable: no evidence either way
        ("", False),
    ],
)
def test_a_list_predates_a_run_only_when_clearly_dated_before_it(creation_date, before):
    assert created_before(creation_date, RUN_START) is before


def test_the_directory_tells_lists_known_or_dated_before_the_run_from_new_ones():
    lists = [
        AccountList("1", "Known", "FR", "", "0", "2024-05-01 21:59:00"),
        AccountList("2", "Old", "FR", "", "0", "2024-04-01 08:00:00"),
        AccountList("3", "New", "FR", "", "0", "2024-05-01 22:00:05"),
    ]
    directory = AccountDirectory(lambda: lists, run_started=RUN_START)
    directory.known_before = {"1"}
    directory.refresh()
    known, old, new = (directory.get(key) for key in ("known", "old", "new"))
    assert known is not None and known.predates_run and known.source == "the account"
    assert old is not None and old.predates_run and "before this run started" in old.source
    assert new is not None and not new.predates_run
