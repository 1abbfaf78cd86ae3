"""The HTML report: self-contained, parses, escapes hostile names, explains codes."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from importer import report, results
from importer.code_meanings import CODE_EXPLANATIONS
from importer.records import RESULT_COLUMNS
from importer.report import write_report
from importer.results import tally
from tests.factories import make_frame, make_summary

HOSTILE = '<script>alert("x")</script> & <img src=https://evil.example/x.png>'


class Page(HTMLParser):
    """Collects tags, attributes and text, failing on anything unbalanced we care about."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open_tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.open_tables += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.open_tables -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> list[str]:
        return [tag for tag, _ in self.tags]


def hostile_frame() -> pd.DataFrame:
    frame = make_frame()
    frame.loc[5, "list_name"] = HOSTILE  # the failed row
    frame.loc[2, "list_name"] = "Ça & <co>"  # an invalid row
    return frame


def render(
    tmp_path: Path, frame: pd.DataFrame | None = None, **changes: object
) -> tuple[str, Page]:
    frame = hostile_frame() if frame is None else frame
    path = tmp_path / "report.html"
    write_report(frame, path, make_summary(frame, **changes))
    page_text = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(page_text)
    page.close()
    return page_text, page


def test_report_parses_and_is_self_contained(tmp_path: Path) -> None:
    text, page = render(tmp_path)
    assert text.startswith("<!DOCTYPE html>")
    assert page.open_tables == 0
    names = page.names()
    assert "svg" in names and "style" in names
    for forbidden in ("script", "link", "img", "iframe", "object", "embed"):
        assert forbidden not in names, forbidden
    for _, attrs in page.tags:
        for value in attrs.values():
            assert "http://" not in (value or "") and "https://" not in (value or "")
    assert "@import" not in text and "url(" not in text


def test_every_failed_row_name_is_there_escaped(tmp_path: Path) -> None:
    text, page = render(tmp_path)
    assert html.escape(HOSTILE) in text
    assert HOSTILE not in text
    assert HOSTILE in "".join(page.text)  # shown to the reader as written
    assert html.escape("Ça & <co>") in text


def test_attention_table_lists_invalid_failed_pending_with_meanings(tmp_path: Path) -> None:
    frame = hostile_frame()
    _, page = render(tmp_path, frame)
    rows = [attrs.get("class") for tag, attrs in page.tags if tag == "tr" and attrs.get("class")]
    needing = frame[frame["outcome"].isin(["invalid", "failed", "pending"])]
    assert rows == needing["outcome"].tolist()
    visible = "".join(page.text)
    for key in ("ERR_101", "ERR_103", "ERR_9xx", "NOT_SENT"):
        assert CODE_EXPLANATIONS[key] in visible
    assert "Clients Paris" not in visible.split("Rows needing attention")[1]  # created row absent


def test_chart_has_one_bar_per_non_zero_outcome_with_counts(tmp_path: Path) -> None:
    frame = make_frame()
    frame.loc[frame["outcome"] == "planned", "outcome"] = "created"
    counts, _ = tally(frame)
    _, page = render(tmp_path, frame, counts=counts)
    bars = [attrs for tag, attrs in page.tags if tag == "rect"]
    assert len(bars) == len(counts) == 6
    svg = report.outcome_chart(make_summary(frame, counts=counts))
    assert "<text" in svg and ">2</text>" in svg  # created: 2, labelled
    assert "planned" not in svg


def test_summary_facts_are_shown(tmp_path: Path) -> None:
    _, page = render(tmp_path, input_path="/data/<lists>.csv", throttled_seconds=2.5)
    visible = " ".join(page.text)
    for fact in ("/data/<lists>.csv", "ab" * 32, "cp1252", "2024-05-01 22:00:00", "2.5 s", "3.4 s"):
        assert fact in visible, fact
    assert "run 7" in visible


def test_long_attention_list_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "MAX_ATTENTION_ROWS", 2)
    _, page = render(tmp_path)
    rows = [attrs for tag, attrs in page.tags if tag == "tr" and attrs.get("class")]
    assert len(rows) == 2
    assert "and 2 more rows needing attention" in " ".join(page.text)


def test_nothing_needing_attention(tmp_path: Path) -> None:
    frame = make_frame()
    frame["outcome"] = "created"
    frame["code"] = "OK"
    _, page = render(tmp_path, frame, counts={"created": len(frame)}, code_counts={"OK": 8})
    assert "None: every row went through." in " ".join(page.text)


def test_empty_run(tmp_path: Path) -> None:
    empty = pd.DataFrame(columns=list(RESULT_COLUMNS))
    _, page = render(tmp_path, empty, counts={}, code_counts={})
    assert "No rows." in " ".join(page.text)


def test_report_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.html"
    path.write_text("old report")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_report(make_frame(), path, make_summary(make_frame()))
    assert path.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
