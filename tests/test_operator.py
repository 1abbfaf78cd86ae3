"""The operator's experience (issue 5), through the real CLI and the library API."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import openpyxl
import pytest

from importer.jobfile import resolve_options
from importer.records import RESULT_COLUMNS
from importer.run import Environment, run
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer
from tests.conftest import SAMPLE_DATA, read_results, write_csv

SAMPLE_CSV = SAMPLE_DATA / "lists.csv"
INVALID_ROWS = {8, 9, 14}
#: What a tqdm bar leaves in its stream.
BAR_MARKS = ("%|", "it/s", "list/s", "s/list", "█")


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def account(cli, monkeypatch: pytest.MonkeyPatch):
    """A sandbox account that already holds two of the sample's lists."""
    existing = [("Newsletter France", "FR"), ("vip belgique", "BE")]
    with SandboxServer(existing_lists=existing) as server:
        monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
        monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
        monkeypatch.setenv("AVOSMS_BASE_URL", server.url)
        yield server


# --------------------------------------------------------------------------- 1. the plan


def test_check_account_marks_existing_lists_beside_planned_ones(cli, account, tmp_path):
    result = cli("validate", SAMPLE_CSV, "--check-account", "-o", "plan.csv")
    assert result.exit_code == 1, result.stderr  # the sample's invalid rows
    rows = {int(row["row"]): row for row in read_results(tmp_path / "plan.csv")}
    ids = {name.casefold(): list_id for list_id, (name, _) in account.stats.lists.items()}
    assert rows[2]["outcome"] == "exists"
    assert rows[2]["list_contact_id"] == ids["newsletter france"]
    assert rows[4]["outcome"] == "exists"
    assert rows[4]["list_contact_id"] == ids["vip belgique"]
    planned = {number for number, row in rows.items() if row["outcome"] == "planned"}
    assert planned == {3, 5, 6, 10, 11, 12}
    assert all(not rows[number]["list_contact_id"] for number in planned)
    assert account.stats.list_requests == account.stats.requests_total == 1
    assert "6 planned" in result.stderr and "2 exists" in result.stderr


def test_without_check_account_nothing_is_asked(cli, account, tmp_path):
    assert cli("validate", SAMPLE_CSV, "-o", "plan.csv").exit_code == 1
    assert {row["outcome"] for row in read_results(tmp_path / "plan.csv")} >= {"planned"}
    assert "exists" not in {row["outcome"] for row in read_results(tmp_path / "plan.csv")}
    assert account.stats.requests_total == 0


def test_check_account_without_credentials_says_so_in_one_line(cli, monkeypatch, tmp_path):
    for name in ("AVOSMS_ID", "AVOSMS_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = cli(
        "validate",
        SAMPLE_CSV,
        "--check-account",
        "--base-url",
        "https://api.example.invalid",
        "-o",
        "plan.csv",
    )
    assert result.exit_code == 2
    (line,) = lines_of(result.stderr)
    assert line.startswith("avosms-import: no credentials")
    assert "AVOSMS_ID" in line and "AVOSMS_KEY" in line
    assert not (tmp_path / "plan.csv").exists()


# --------------------------------------------------------------------------- 2. progress


def has_bar(text: str) -> bool:
    return any(mark in text for mark in BAR_MARKS)


def test_no_progress_bar_when_stderr_is_not_a_terminal(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(f"Row {n}", "FR") for n in range(20)])
    result = cli("run", source, "-o", "out.csv", "--rate", "0", "--progress")
    assert result.exit_code == 0, result.stderr
    assert not has_bar(result.stderr + result.stdout), result.stderr
    assert "\r" not in result.stderr
    (line,) = lines_of(result.stderr)
    assert "20 created" in line


def run_with_stderr(tmp_path: Path, sandbox: SandboxServer, **cli: object) -> str:
    """The library API with stderr forced to be a terminal; what was drawn on it."""
    source = write_csv(tmp_path / "in.csv", [(f"Row {n}", "FR") for n in range(20)])
    options = resolve_options(
        {},
        {
            "input": source,
            "output": tmp_path / "out.csv",
            "state": tmp_path / "state.db",
            "base_url": sandbox.url,
            "rate": 0,
            **cli,
        },
        environ={},
        job_dir=None,
    )
    stderr = StringIO()
    environment = Environment(
        environ={"AVOSMS_ID": DEMO_ID, "AVOSMS_KEY": DEMO_KEY},
        cwd=tmp_path,
        stderr=stderr,
        stderr_isatty=True,
        handle_signals=False,
    )
    result = run(options, environment)
    assert int(result.exit_code) == 0
    return stderr.getvalue()


@pytest.mark.parametrize(
    ("cli", "shown"),
    [({}, True), ({"progress": False}, False), ({"quiet": True}, False)],
    ids=["terminal", "no-progress", "quiet"],
)
def test_progress_bar_on_a_terminal(tmp_path, sandbox, cli, shown):
    drawn = run_with_stderr(tmp_path, sandbox, **cli)
    assert has_bar(drawn) is shown, drawn
    if shown:
        assert "20/20" in drawn
    assert sum(sandbox.stats.created.values()) == 20


# --------------------------------------------------------------------------- 3. logs


@pytest.mark.parametrize("failing", [False, True], ids=["invalid rows", "invalid and failed rows"])
def test_json_log_lines_carry_run_id_and_row(cli, api_env, tmp_path, failing):
    options = ["--no-reconcile"]
    if failing:
        api_env.set_faults(FaultPlan(error_9xx_rate=1.0))
        options += ["--max-attempts", "1", "--max-outage", "60"]
    result = cli("run", SAMPLE_CSV, "-o", "out.csv", "--log-format", "json", *options)
    assert result.exit_code == 1, result.stderr
    records = [json.loads(line) for line in lines_of(result.stderr)]
    rows = read_results(tmp_path / "out.csv")
    problems = {int(row["row"]) for row in rows if row["outcome"] in ("invalid", "failed")}
    assert problems == (INVALID_ROWS | ({2, 3, 4, 5, 6, 10, 11, 12} if failing else set()))

    warnings = [record for record in records if record["level"] == "WARNING"]
    assert sorted(record["row"] for record in warnings) == sorted(problems)
    by_row = {int(row["row"]): row for row in rows}
    for record in warnings:
        assert record["run_id"] == 1
        assert record["outcome"] == by_row[record["row"]]["outcome"]
        assert record["code"] == by_row[record["row"]]["code"]

    infos = [record for record in records if record["level"] == "INFO"]
    # The first line names the kind, before any warning; the summary comes last.
    assert len(infos) == 2 and records[0] is infos[0] and records[-1] is infos[1]
    assert infos[0]["kind"] == "lists" and infos[0]["message"].startswith("lists: ")
    summary = infos[1]
    assert summary["run_id"] == 1
    assert summary["counts"] == {
        outcome: sum(row["outcome"] == outcome for row in rows)
        for outcome in {row["outcome"] for row in rows}
    }
    assert "13 rows in" in summary["message"]
    assert DEMO_KEY not in result.stderr


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_quiet_prints_only_the_summary(cli, api_env, log_format):
    result = cli("run", SAMPLE_CSV, "-o", "out.csv", "--quiet", "--log-format", log_format)
    assert result.exit_code == 1
    (line,) = lines_of(result.stderr)
    message = json.loads(line)["message"] if log_format == "json" else line
    assert "13 rows" in message and "8 created" in message and "3 invalid" in message


# --------------------------------------------------------------------------- 4. results


def test_xlsx_results_are_readable_in_excel(cli, api_env, tmp_path):
    assert cli("run", SAMPLE_CSV, "-o", "out.xlsx").exit_code == 1
    workbook = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert workbook.sheetnames == ["Results", "Summary"]
    sheet = workbook["Results"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:J14"
    assert [cell.value for cell in sheet[1]] == list(RESULT_COLUMNS)
    for row in sheet.iter_rows(min_row=2):
        assert sheet.row_dimensions[row[0].row].number_format == "@"  # for its empty cells
        for cell in row:
            assert cell.value is None or cell.data_type == "s", cell
            assert cell.value is None or cell.number_format == "@", cell
    assert sheet["A2"].value == "2" and sheet["J2"].value == "1"  # numbers stored as text
    assert sheet["B11"].value == "2024" and sheet["B10"].value == "Namibia Team"
    fills = {sheet.cell(row, 6).value: sheet.cell(row, 1).fill.fgColor.rgb for row in range(2, 15)}
    assert len({fills["created"], fills["invalid"], fills["duplicate"]}) == 3
    assert all(sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJ")

    summary = [
        [cell for cell in row if cell is not None]
        for row in workbook["Summary"].iter_rows(values_only=True)
    ]
    cells = [str(cell) for row in summary for cell in row]
    assert "created" in cells and "invalid" in cells and "ERR_103" in cells
    assert any(str(SAMPLE_CSV) in cell for cell in cells)
    assert any(len(cell) == 64 for cell in cells)  # the input's sha256


FORMULA_NAMES = ["=1+1", "+33 list", "-x", "@SUM(A1)"]


def test_formula_like_names_are_neutralised_but_created_unchanged(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(name, "FR") for name in FORMULA_NAMES])
    for output in ("out.csv", "out.xlsx", "out.json"):
        assert cli("run", source, "-o", output).exit_code == 0
    assert sorted(name for name, _ in api_env.stats.lists.values()) == sorted(FORMULA_NAMES)
    assert set(api_env.stats.created.values()) == {1}

    csv_rows = read_results(tmp_path / "out.csv")
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["Results"]
    xlsx_rows = [
        dict(zip(RESULT_COLUMNS, row, strict=True)) for row in sheet.iter_rows(2, values_only=True)
    ]
    json_rows = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["rows"]
    for name, in_csv, in_xlsx, in_json in zip(
        FORMULA_NAMES, csv_rows, xlsx_rows, json_rows, strict=True
    ):
        for row in (in_csv, in_xlsx):
            assert row["list_name"] == row["name"] == "'" + name
        assert in_json["list_name"] == in_json["name"] == name  # JSON is data, not a sheet
    for row in sheet.iter_rows(2):
        assert all(cell.data_type == "s" for cell in row)


def test_a_results_file_read_back_as_lists_names_the_same_lists(cli, api_env, tmp_path):
    """Fixing rows in the results file and importing it again must not make a second list
    named `'=1+1`: the guard the results wrote is dropped on reading, as Excel shows it."""
    source = write_csv(tmp_path / "in.csv", [(name, "FR") for name in FORMULA_NAMES])
    assert cli("run", source, "-o", "first.csv").exit_code == 0
    assert cli("run", source, "-o", "first.xlsx").exit_code == 0
    for results_file in ("first.csv", "first.xlsx"):
        again = cli(
            "run", results_file, "--name-column", "list_name", "--country-column", "country",
            "-o", f"again-{results_file}.json",
        )  # fmt: skip
        assert again.exit_code == 0, again.output
        rows = json.loads((tmp_path / f"again-{results_file}.json").read_text("utf-8"))["rows"]
        assert [row["name"] for row in rows] == FORMULA_NAMES
        assert {row["outcome"] for row in rows} == {"exists"}
    assert sorted(name for name, _ in api_env.stats.lists.values()) == sorted(FORMULA_NAMES)


# --------------------------------------------------------------------------- 5. the report


class ReportParser(HTMLParser):
    """The report's table rows as lists of cell texts, and any external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.external: list[str] = []
        self.svg = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.svg = self.svg or tag == "svg"
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_html_report_lists_every_row_needing_attention(cli, api_env, tmp_path):
    # "Fine" exists already, "fine" is its duplicate: neither needs attention.
    assert cli("run", write_csv(tmp_path / "first.csv", [("Fine", "FR")])).exit_code == 0
    source = write_csv(
        tmp_path / "in.csv",
        [("Fine", "FR"), ("", "FR"), ("<b>Bold</b>", "Atlantis"), ("Fails", "DE"), ("fine", "FR")],
    )
    api_env.set_faults(FaultPlan(error_9xx_rate=1.0))
    result = cli("run", source, "-o", "out.csv", "--report", "report.html", "--max-attempts", "1")
    assert result.exit_code == 1, result.stderr
    parser = ReportParser()
    parser.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    parser.close()
    assert parser.svg and parser.external == []

    expected = {
        int(row["row"]): row
        for row in read_results(tmp_path / "out.csv")
        if row["outcome"] in ("invalid", "failed")
    }
    assert set(expected) == {3, 4, 5}
    listed = {int(cells[0]): cells for cells in parser.rows if cells and cells[0].isdigit()}
    assert set(listed) == set(expected)  # every row needing attention, and only those
    for number, row in expected.items():
        assert row["outcome"] in listed[number] and row["code"] in listed[number]
    assert "<b>Bold</b>" in listed[4]  # shown as text, escaped


# --------------------------------------------------------------------------- 6. account lists


def read_any(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        return read_results(path)
    if path.suffix == ".json":
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = document["lists"] if isinstance(document, dict) else document
        return [{key: str(value) for key, value in row.items()} for row in rows]
    sheet = openpyxl.load_workbook(path).active
    header, *body = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json"])
def test_lists_exports_the_accounts_lists(cli, account, tmp_path, suffix):
    assert (
        cli("run", write_csv(tmp_path / "in.csv", [("Nouvelle", "DE")]), "-o", "o.csv").exit_code
        == 0
    )
    result = cli("lists", "-o", f"lists{suffix}")
    assert result.exit_code == 0, result.stderr
    assert f"3 lists written to lists{suffix}" in result.stderr
    rows = read_any(tmp_path / f"lists{suffix}")
    assert {(row["list_contact_id"], row["name"], row["country_code"]) for row in rows} == {
        (list_id, name, country) for list_id, (name, country) in account.stats.lists.items()
    }
    for row in rows:
        assert set(row) >= {"country_name", "nb_contact", "creation_date"}
        assert row["creation_date"]
    assert {row["name"] for row in rows} == {"Newsletter France", "vip belgique", "Nouvelle"}
    assert DEMO_KEY not in (tmp_path / f"lists{suffix}").read_bytes().decode("utf-8", "replace")


def test_lists_of_an_empty_account(cli, api_env, tmp_path):
    result = cli("lists", "-o", "lists.csv")
    assert result.exit_code == 0
    assert "0 lists written" in result.stderr
    assert read_results(tmp_path / "lists.csv") == []


# --------------------------------------------------------------------------- 7. job files

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(8)
)


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("input: in.csv\nworkerz: 4\n", 2, 'unknown key "workerz"'),
        ("input: in.csv\nworkers: many\n", 2, '"workers" must be a whole number'),
        ("input: in.csv\nrate: [1, 2\n", 3, "YAML syntax error"),
        (BOMB, 1, "anchors and aliases"),
        ("# the input\ninput: nowhere.csv\n", 2, "input file not found"),
        ("input: in.csv\nkey: s3cr3t-value\n", 2, "does not belong in a job file"),
    ],
    ids=["unknown key", "wrong type", "YAML syntax", "alias bomb", "missing input", "key"],
)
def test_job_file_errors_give_one_line_with_file_and_line(
    cli, api_env, tmp_path, text, line, expected
):
    write_csv(tmp_path / "in.csv", [("A", "FR")])
    job = tmp_path / "job.yaml"
    job.write_text(text, encoding="utf-8")
    result = cli("run", "--job", job)
    assert result.exit_code == 2
    (message,) = lines_of(result.stderr)
    assert message.startswith(f"avosms-import: {job}: line {line}:"), message
    assert expected in message
    assert "s3cr3t-value" not in result.stderr
    assert api_env.stats.requests_total == 0
    assert not list(tmp_path.glob("*.results.*"))


def test_a_job_file_without_input_is_named(cli, api_env, tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text("workers: 2\n", encoding="utf-8")
    result = cli("run", "--job", job)
    assert result.exit_code == 2
    (message,) = lines_of(result.stderr)
    assert "input" in message
    assert str(job) in message, "the message should name the job file that lacks `input:`"
    assert api_env.stats.requests_total == 0


def test_quiet_with_a_log_file_keeps_every_line_in_the_file(cli, api_env, tmp_path):
    result = cli(
        "run",
        SAMPLE_DATA / "lists.csv",
        "-o",
        "out.csv",
        "--quiet",
        "--log-file",
        "run.log",
        "--log-format",
        "json",
    )
    assert result.exit_code == 1
    assert (
        result.stderr.strip().startswith("lists: 13 rows") and len(result.stderr.splitlines()) == 1
    )
    lines = [json.loads(line) for line in (tmp_path / "run.log").read_text().splitlines()]
    assert [line["row"] for line in lines if line["level"] == "WARNING"] == [8, 9, 14]
    assert lines[-1]["level"] == "INFO" and lines[-1]["counts"]["created"] == 8


def test_check_account_in_a_job_file_reads_the_account(cli, api_env, tmp_path):
    job = tmp_path / "plan.yaml"
    job.write_text(f"input: {SAMPLE_DATA / 'lists.csv'}\ncheck_account: true\noutput: plan.csv\n")
    result = cli("validate", "--job", job)
    assert result.exit_code == 1, result.stderr
    assert api_env.stats.list_requests == 1 and api_env.stats.create_requests.total() == 0


def test_an_xlsx_too_large_for_one_sheet_is_refused_before_sending(
    cli, api_env, tmp_path, monkeypatch
):
    from importer import results_xlsx

    monkeypatch.setattr(results_xlsx, "XLSX_MAX_ROWS", 10)
    result = cli("run", SAMPLE_DATA / "lists.csv", "-o", "out.xlsx")
    assert result.exit_code == 2
    assert (
        "do not fit in one .xlsx sheet" in result.stderr
        and "write the results as .csv" in result.stderr
    )
    assert api_env.stats.requests_total == 0
