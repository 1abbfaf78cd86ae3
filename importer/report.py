"""The HTML report: one self-contained page to look at, attach to an e-mail, open offline.

No external assets, no JavaScript: inline CSS and an inline SVG chart. Every value from the
input is hostile until escaped, so everything goes through `html.escape`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, cast

from importer.atomic_file import atomic_write
from importer.code_meanings import explain_code
from importer.list_tally import outcome_columns, summary_table
from importer.records import NAME_AS_TYPED, Outcome
from importer.results import RunSummary, ended_text, format_duration

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
    # A plan's requests other than adds (`list_tally.PLANNED_ACTIONS`): as their outcome.
    "to update": "#558b2f",
    "to remove": "#4e342e",
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
.bar { display: inline-block; height: 0.8em; margin-right: 0.4em; vertical-align: middle; }
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
        _per_list_section(frame, summary),
        _attention_section(frame, summary.kind),
        _parameters_section(summary),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _summary_section(summary: RunSummary) -> str:
    elapsed = summary.elapsed_seconds
    facts: list[tuple[str, str]] = []
    if summary.run_id is not None:
        facts.append(("Run", str(summary.run_id)))
    facts += summary.source_description()
    facts += [
        ("Started", summary.started_at.isoformat(sep=" ", timespec="seconds")),
        ("Ended", ended_text(summary, " ")),
        ("Elapsed", "" if elapsed is None else format_duration(elapsed)),
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


#: The widest bar of the per-list table (a list's rows all of one outcome), in pixels.
LIST_BAR_PX = 80


def _per_list_section(frame: pd.DataFrame, summary: RunSummary) -> str:
    """Contacts only: per list, its contacts before and after, its rows per outcome (each with
    a bar, its share of the list's rows) and its invalid rows by code. A plan's (`validate`)
    columns read in plan words: `to add`, `unchanged`."""
    if not summary.lists:
        return ""
    planning = summary.run_id is None
    headings, rows = summary_table(summary.lists, planning=planning)
    outcomes = outcome_columns(summary.lists)
    reasons = _invalid_codes(frame)
    head = "".join(f"<th>{escape(str(heading))}</th>" for heading in headings)
    body = []
    for tally, row in zip(summary.lists, rows, strict=True):
        total = sum(tally.outcomes.values()) or 1
        cells = [f"<td>{escape(str(row[0]))}</td><td>{escape(str(row[1]))}</td>"]
        cells += [f'<td class="num">{value}</td>' for value in row[2:4]]
        for outcome, label, count in zip(outcomes, headings[4:], row[4:], strict=True):
            bar = ""
            if count:
                width = max(2, round(LIST_BAR_PX * count / total))
                colour = BAR_COLOURS.get(outcome, "#607d8b")
                bar = (
                    f'<span class="bar" style="width:{width}px;background:{colour}" '
                    f'title="{escape(label)}: {count}"></span>'
                )
            cells.append(f'<td class="num">{bar}{count}</td>')
        why = escape(", ".join(reasons.get(tally.key, [])))
        body.append(f"<tr>{''.join(cells)}<td>{why}</td></tr>")
    note = (
        '<p class="muted">The plan: nothing was sent. "Contacts after" is the list once the plan '
        "is sent.</p>\n"
        if planning
        else '<p class="muted">"Contacts after" is the list before the run, plus the contacts '
        "this run added, less those it removed.</p>\n"
    )
    return (
        f"<h2>Per list</h2>\n{note}<table>\n"
        f"<tr>{head}<th>Invalid, by code</th></tr>\n" + "\n".join(body) + "\n</table>"
    )


def _invalid_codes(frame: pd.DataFrame) -> dict[str, list[str]]:
    """List key -> `CODE × n` of its invalid rows, most frequent first."""
    lists = frame["list_name"].astype("string").fillna("")
    keys = frame["list_key"].astype("string").fillna("") if "list_key" in frame else lists
    invalid = frame["outcome"].astype("string").fillna("") == Outcome.INVALID.value
    codes = frame.loc[invalid, "code"].astype("string").groupby(keys[invalid], sort=False)
    reasons: dict[str, list[str]] = {}
    for pair, count in codes.value_counts().items():
        key, code = cast("tuple[str, str]", pair)
        reasons.setdefault(str(key), []).append(f"{code} × {int(count)}")
    return reasons


def _attention_section(frame: pd.DataFrame, kind: str = "") -> str:
    """The invalid, failed and pending rows (at most MAX_ATTENTION_ROWS), codes explained."""
    outcomes = frame["outcome"].astype("string").fillna("")
    needing = frame[outcomes.isin([str(o) for o in ATTENTION_OUTCOMES])]
    heading = "<h2>Rows needing attention</h2>"
    if needing.empty:
        return f'{heading}\n<p class="muted">None: every row went through.</p>'
    shown = needing.head(MAX_ATTENTION_ROWS)
    text = {c: shown[c].astype("string").fillna("").tolist() for c in ("row", *_TAIL)}
    text["row"] = [row if not row.startswith("-") else "" for row in text["row"]]  # a removal
    leading = _leading_cells(shown, kind)
    meanings = [explain_code(code, kind) for code in text["code"]]
    body = []
    for i in range(len(shown)):  # bounded by MAX_ATTENTION_ROWS
        outcome = text["outcome"][i]
        cells = "".join(f"<td>{escape(values[i])}</td>" for values in leading.values())
        body.append(
            f'<tr class="{escape(outcome)}"><td class="num">{escape(text["row"][i])}</td>'
            f"{cells}<td>{escape(outcome)}</td><td>{escape(text['code'][i])}</td>"
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
        f"<tr><th>Row</th>{''.join(f'<th>{title}</th>' for title in leading)}<th>Outcome</th>"
        "<th>Code</th><th>What it means</th><th>Message</th></tr>\n"
        + "\n".join(body)
        + f"\n</table>\n{note}"
    )


#: The attention table's columns after the row's own: outcome, code, its meaning, message.
_TAIL = ("outcome", "code", "message")


def _leading_cells(shown: pd.DataFrame, kind: str) -> dict[str, list[str]]:
    """Column title -> cells that say which row it is: for a list its name and country; for a
    contact its list, the phone as typed, its name and country."""

    def cells(column: str) -> pd.Series:
        if column not in shown:
            return pd.Series("", index=shown.index, dtype="string")
        return shown[column].astype("string").fillna("").str.strip()

    leading = {"List name": cells("list_name")}
    if kind == "contacts":
        leading["Phone"] = cells("phone")
        # A removal row has no name as typed: its name is the account's.
        named = (cells("first_name") + " " + cells("last_name")).str.strip()
        leading["Name"] = cells(NAME_AS_TYPED).mask(lambda typed: typed == "", named)
    leading["Country"] = cells("country")
    return {title: values.tolist() for title, values in leading.items()}


def _parameters_section(summary: RunSummary) -> str:
    if not summary.parameters:
        return ""
    rows = "\n".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
        for k, v in summary.parameters.items()
    )
    return f"<h2>Parameters</h2>\n<table>\n{rows}\n</table>"
