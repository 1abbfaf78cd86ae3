"""Small result frames and run summaries shared by the results and report tests."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from importer.records import RESULT_COLUMNS
from importer.results import RunSummary, tally

ROWS = [
    # row, list_name, country, name, country_code, outcome, code, message, id, attempts
    (2, " Clients  Paris", "fr", "Clients Paris", "FR", "created", "OK", "", "1001", 1),
    (3, "Fournisseurs", "Allemagne", "Fournisseurs", "DE", "exists", "OK", "already", "17", 0),
    (4, "", "FR", "", "FR", "invalid", "ERR_101", "the name is empty", "", 0),
    (5, "clients paris", "FR", "clients paris", "FR", "duplicate", "DUPLICATE", "row 2", "", 0),
    (6, 'Say "hi", all\nnow', "xx", 'Say "hi", all now', "", "invalid", "ERR_103", "?", "", 0),
    (7, "007", "NA", "007", "NA", "failed", "ERR_901", "server error", "", 5),
    (8, "2024", "fr", "2024", "FR", "pending", "NOT_SENT", "run stopped", "", 0),
    (9, "Été <b>", "fr", "Été <b>", "FR", "planned", "", "", "", 0),
]


def make_frame(rows: list[tuple] = ROWS, *, extra: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    if extra:  # prepare() adds name_key; it must not reach the file
        frame.insert(3, "name_key", frame["name"].str.casefold())
    return frame


def make_summary(frame: pd.DataFrame | None = None, **changes: object) -> RunSummary:
    counts, code_counts = tally(make_frame() if frame is None else frame)
    summary = RunSummary(
        run_id=7,
        input_path="lists.csv",
        input_sha256="ab" * 32,
        encoding="cp1252",
        delimiter=";",
        sheet=None,
        started_at=datetime(2024, 5, 1, 22, 0, 0),
        ended_at=datetime(2024, 5, 1, 22, 0, 3, 400_000),
        counts=counts,
        code_counts=code_counts,
        throttled_seconds=0.0,
        parameters={"workers": "4", "rate": "10"},
    )
    for key, value in changes.items():
        setattr(summary, key, value)
    return summary
