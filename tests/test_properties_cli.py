"""Property tests of the real `validate` command: any bytes in, a result or one clear line out.

Whatever a .csv file holds, `validate` writes a results file (exit 0 or 1) or refuses the file
with exactly one line on stderr (exit 2), never a traceback. For well-formed CSVs the results
file has exactly one row per non-blank input row.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.cli import main
from importer.records import RESULT_COLUMNS
from tests.conftest import read_results

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Characters CSV files are made of, the awkward ones included (quotes, NUL, separators, BOM).
CSV_CHARACTERS = st.sampled_from(list("name,country;\t|\"'\r\n \xa0\x00\ufeffFRDEéÉ€0123;"))

#: Bytes that look more or less like a CSV, or nothing like one.
ANY_BYTES = st.one_of(
    st.binary(max_size=2000),
    st.builds(
        lambda header, body: header + body,
        st.sampled_from([b"", b"name,country\n", b"list;pays\r\n", b"\xef\xbb\xbfNom\tPays\n"]),
        st.binary(max_size=500),
    ),
    st.builds(
        lambda text, encoding: text.encode(encoding, "replace"),
        st.text(CSV_CHARACTERS, max_size=400),
        st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]),
    ),
)


def validate(folder: Path, data: bytes) -> tuple[int, str, Path]:
    """Run `avosms-import validate` on `data` saved as a .csv; exit code, stderr, results path."""
    source = folder / "input.csv"
    source.write_bytes(data)
    output = folder / "input.results.csv"
    output.unlink(missing_ok=True)
    result = CliRunner().invoke(
        main,
        ["validate", str(source), "-o", str(output), "--base-url", "sandbox"],
        catch_exceptions=False,
    )
    return result.exit_code, result.stderr, output


def assert_one_line_refusal(stderr: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("avosms-import: "), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr


@PROPERTY_SETTINGS
@given(data=ANY_BYTES)
def test_any_bytes_as_a_csv_give_a_results_file_or_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        exit_code, stderr, output = validate(Path(folder), data)
        assert "Traceback" not in stderr
        assert exit_code in (0, 1, 2), stderr
        if exit_code == 2:
            assert_one_line_refusal(stderr)
            assert not output.exists()
        else:
            rows = read_results(output)
            assert rows, stderr
            assert list(rows[0]) == list(RESULT_COLUMNS)
            assert [int(row["row"]) for row in rows] == sorted(int(row["row"]) for row in rows)


#: Cell text from a safe alphabet: letters, accents, digits, spaces and a little punctuation.
CELL = st.text(st.sampled_from(list("abcXYZéÈ019 -'.&,")), max_size=12)
COUNTRY = st.one_of(st.sampled_from(["FR", "de", "NA", "Allemagne", "ZZ", "", "  "]), CELL)


@PROPERTY_SETTINGS
@given(rows=st.lists(st.tuples(CELL, COUNTRY), max_size=40))
def test_the_results_hold_one_row_per_non_blank_input_row(rows: list[tuple[str, str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["name", "country"])
    writer.writerows(rows)
    expected = [
        number
        for number, (name, country) in enumerate(rows, start=2)
        if name.strip() or country.strip()
    ]
    with tempfile.TemporaryDirectory() as folder:
        exit_code, stderr, output = validate(Path(folder), buffer.getvalue().encode("utf-8"))
        if not expected:  # a header and blank lines: nothing to import
            assert exit_code == 2
            assert_one_line_refusal(stderr)
            return
        assert exit_code in (0, 1), stderr
        results = read_results(output)
        assert [int(row["row"]) for row in results] == expected
        outcomes = {row["outcome"] for row in results}
        assert outcomes <= {"planned", "invalid", "duplicate"}
