"""The HTML report: one self-contained page to look at, attach to an e-mail, open offline.

No external assets, no JavaScript: inline CSS and an inline SVG chart. Every value from the
input is hostile until escaped, so everything goes through `html.escape`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, cast

from importer.records import Outcome
from importer.results import RunSummary, atomic_write, explain_code, format_duration

if TYPE_CHECKING:
    import pandas as pd

#: Outcomes of the rows the operator has to look at.
ATTENTION_OUTCOMES = (Outcome.INVALID, Outcome.FAILED, Outcome.PENDING)

#: At most this many rows in the attention table; the results file has them all.
MAX_ATTENTION_ROWS = 1_000

#: Bar colours, the stronger cousins of the results workbook's row tints.
BAR_COLOURS: dict[str, str] = {
    Outcome.CREATED: "#2e7d32",
    Outcome.UPDATED: "#558b2f",
    Outcome.EXISTS: "#1565c0",
    Outcome.DELETED: "#4e342e",
    Outcome.DUPLICATE: "#757575",
    Outcome.PLANNED: "#9e9e9e",
    Outcome.EXCLUDED: "#6a1b9a",
    Outcome.FAILED: "#c62828",
    Outcome.INVALID: "#d84315",
    Outcome.PENDING: "#f9a825",
}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em;
       color: #212121; max-width: 75em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #616161; }
tr.failed td, tr.invalid td { background: #ffebee; } tr.pending td { background: #fff8e1; }
svg text { font-family: inherit; font-size: 13px; }
"""


def write_report(frame: pd.DataFrame, path: Path, summary: RunSummary) -> None:
    """Write the run's HTML report to `path` atomically (UTF-8)."""
    page = render_report(frame, summary)
    with atomic_write(Path(path)) as handle:
        handle.write(page.encode("utf-8"))


def render_report(frame: pd.DataFrame, summary: RunSummary) -> str:
    """The report page as a string: summary, outcome chart, rows needing attention."""
    title = f"AvoSMS import report — {Path(summary.input_path).name}"
    if summary.run_id is not None:
        title += f" (run {summary.run_id})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        _summary_section(summary),
        "<h2>Outcomes</h2>",
        outcome_chart(summary),
        _codes_section(summary),
        _per_list_section(frame),
        _attention_section(frame, summary.kind),
        _parameters_section(summary),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _summary_section(summary: RunSummary) -> str:
    facts: list[tuple[str, str]] = []
    if summary.run_id is not None:
        facts.append(("Run", str(summary.run_id)))
    facts += summary.source_description()
    facts += [
        ("Started", summary.started_at.isoformat(sep=" ", timespec="seconds")),
        ("Ended", summary.ended_at.isoformat(sep=" ", timespec="seconds")),
        ("Elapsed", format_duration(summary.elapsed_seconds)),
        ("Waiting on throttling", format_duration(summary.throttled_seconds)),
        ("Rows", str(summary.total_rows)),
    ]
    facts += [(outcome.capitalize(), str(count)) for outcome, count in summary.ordered_counts()]
    rows = "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    return f'<h2>Summary</h2>\n<table class="summary">\n{rows}\n</table>'


def outcome_chart(summary: RunSummary) -> str:
    """A horizontal bar per non-zero outcome, labelled with its count, as inline SVG."""
    bars = [(outcome, count) for outcome, count in summary.ordered_counts() if count > 0]
    if not bars:
        return '<p class="muted">No rows.</p>'
    label_width, bar_width, row_height = 90, 420, 28
    largest = max(count for _, count in bars)
    height = row_height * len(bars) + 8
    width = label_width + bar_width + 90
    items = []
    for index, (outcome, count) in enumerate(bars):
        y = 4 + index * row_height
        length = max(2, round(bar_width * count / largest))
        colour = BAR_COLOURS.get(outcome, "#607d8b")
        items.append(
            f'<text x="{label_width - 8}" y="{y + 18}" text-anchor="end">{escape(outcome)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{length}" height="{row_height - 8}" '
            f'fill="{colour}"><title>{escape(outcome)}: {count}</title></rect>'
            f'<text x="{label_width + length + 6}" y="{y + 18}">{count}</text>'
        )
    return (
        f'<svg role="img" aria-label="Rows per outcome" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">\n' + "\n".join(items) + "\n</svg>"
    )


def _codes_section(summary: RunSummary) -> str:
    if not any(summary.code_counts):
        return ""
    rows = "\n".join(
        f'<tr><td>{escape(code)}</td><td class="num">{count}</td>'
        f"<td>{escape(explain_code(code, summary.kind))}</td></tr>"
        for code, count in sorted(summary.code_counts.items())
        if code
    )
    return (
        "<h2>Codes</h2>\n<table>\n<tr><th>Code</th><th>Rows</th><th>Meaning</th></tr>\n"
        f"{rows}\n</table>"
    )


#: The per-list table of a contacts report: outcome columns, in this order.
PER_LIST_OUTCOMES = (
    Outcome.CREATED,
    Outcome.UPDATED,
    Outcome.EXISTS,
    Outcome.DELETED,
    Outcome.PLANNED,
    Outcome.DUPLICATE,
    Outcome.EXCLUDED,
    Outcome.INVALID,
    Outcome.FAILED,
    Outcome.PENDING,
)


def _per_list_section(frame: pd.DataFrame) -> str:
    """Contacts only: per list, how many contacts were added, already there, invalid by code."""
    if "phone" not in frame.columns or frame.empty:
        return ""
    lists = frame["list_name"].astype("string").fillna("")
    outcomes = frame["outcome"].astype("string").fillna("")
    counts = outcomes.groupby(lists, sort=False).value_counts().unstack(fill_value=0)
    invalid = frame[outcomes == Outcome.INVALID.value]
    reasons: dict[str, list[str]] = {}
    codes = invalid["code"].astype("string").groupby(lists[invalid.index], sort=False)
    for key, n in codes.value_counts().items():
        list_name, code = cast(tuple[str, str], key)
        reasons.setdefault(str(list_name), []).append(f"{code} × {int(n)}")
    shown = [o for o in PER_LIST_OUTCOMES if o.value in counts.columns]
    head = "".join(f"<th>{escape(o.value)}</th>" for o in shown)
    body = []
    for name, row in counts.iterrows():
        cells = "".join(f'<td class="num">{int(row[o.value])}</td>' for o in shown)
        why = escape(", ".join(reasons.get(str(name), [])))
        body.append(f"<tr><td>{escape(str(name))}</td>{cells}<td>{why}</td></tr>")
    return (
        "<h2>Per list</h2>\n<table>\n"
        f"<tr><th>List (as read)</th>{head}<th>Invalid, by code</th></tr>\n"
        + "\n".join(body)
        + "\n</table>"
    )


def _attention_section(frame: pd.DataFrame, kind: str = "") -> str:
    """The invalid, failed and pending rows (at most MAX_ATTENTION_ROWS), codes explained."""
    outcomes = frame["outcome"].astype("string").fillna("")
    needing = frame[outcomes.isin([str(o) for o in ATTENTION_OUTCOMES])]
    heading = "<h2>Rows needing attention</h2>"
    if needing.empty:
        return f'{heading}\n<p class="muted">None: every row went through.</p>'
    shown = needing.head(MAX_ATTENTION_ROWS)
    columns = ("row", "list_name", "country", "outcome", "code", "message")
    text = {c: shown[c].astype("string").fillna("").tolist() for c in columns}
    text["row"] = [row if not row.startswith("-") else "" for row in text["row"]]  # a removal
    meanings = [explain_code(code, kind) for code in text["code"]]
    body = []
    for i in range(len(shown)):  # bounded by MAX_ATTENTION_ROWS
        outcome = text["outcome"][i]
        body.append(
            f'<tr class="{escape(outcome)}"><td class="num">{escape(text["row"][i])}</td>'
            f"<td>{escape(text['list_name'][i])}</td><td>{escape(text['country'][i])}</td>"
            f"<td>{escape(outcome)}</td><td>{escape(text['code'][i])}</td>"
            f"<td>{escape(meanings[i])}</td><td>{escape(text['message'][i])}</td></tr>"
        )
    more = len(needing) - len(shown)
    note = (
        f'<p class="muted">… and {more} more {"row" if more == 1 else "rows"} needing attention:'
        " see the results file for every row.</p>"
        if more > 0
        else ""
    )
    return (
        f"{heading}\n<p>{len(needing)} {'row needs' if len(needing) == 1 else 'rows need'} "
        "a look. Fix invalid rows in the spreadsheet; failed and pending rows are sent again "
        "by the next run of the job.</p>\n<table>\n"
        "<tr><th>Row</th><th>List name</th><th>Country</th><th>Outcome</th><th>Code</th>"
        "<th>What it means</th><th>Message</th></tr>\n" + "\n".join(body) + f"\n</table>\n{note}"
    )


def _parameters_section(summary: RunSummary) -> str:
    if not summary.parameters:
        return ""
    rows = "\n".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
        for k, v in summary.parameters.items()
    )
    return f"<h2>Parameters</h2>\n<table>\n{rows}\n</table>"
