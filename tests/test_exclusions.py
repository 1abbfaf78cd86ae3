"""Opt-outs always win: an opt-out column and `--exclude` STOP lists, through the real CLI
against the sandbox (what reached it is read from its counters), and their rules as properties."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from importer.kinds.contacts import ContactOptions, prepare
from importer.kinds.exclusions import StopList, clean_number, read_stop_list
from importer.rules.optout import FALSY, TRUTHY, read_opt_out
from importer.sandbox import SandboxServer
from tests.conftest import read_results

CONTACTS = (
    "liste,pays,téléphone,prénom,stop\n"
    "Clients,FR,06 12 34 56 78,Anne,\n"  # 2: the same number opts out on row 5
    "Clients,FR,+33 6 23 45 67 89,Bruno,non\n"  # 3: in the STOP list
    "Clients,FR,06 34 56 78 90,Chloé,0\n"  # 4: sent
    "Prospects,FR,+33612345678,Anne,oui\n"  # 5: opts out, another list
    "Clients,FR,06 12 34 56 78,Anne,\n"  # 6: would be a duplicate of row 2
    "Clients,FR,06 45 67 89 01,Denis,peut-être\n"  # 7: neither yes nor no
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def by_row(path: Path) -> dict[str, dict[str, str]]:
    return {row["row"]: row for row in read_results(path)}


def test_opted_out_and_stop_listed_numbers_never_reach_the_sandbox(cli, creds, tmp_path) -> None:
    source = write(tmp_path / "in.csv", CONTACTS)
    stop = write(tmp_path / "stop.txt", "+33623456789\n")
    with SandboxServer() as server:
        result = cli("run", source, "--exclude", stop, "--base-url", server.url, "-o", "out.csv")
        sent = {number for _list_id, number in server.stats.add_requests}
    assert result.exit_code == 0, result.stderr  # excluded is a success
    assert sent == {"+33634567890"}
    rows = by_row(tmp_path / "out.csv")
    outcomes = {row: r["outcome"] for row, r in rows.items()}
    assert outcomes == {
        "2": "excluded",
        "3": "excluded",
        "4": "created",
        "5": "excluded",
        "6": "excluded",  # never `duplicate`
        "7": "excluded",
    }
    assert {r["code"] for r in rows.values() if r["outcome"] == "excluded"} == {"OPTED_OUT"}
    assert rows["2"]["message"] == (
        "not sent: +33612345678 opted out on row 5 (column 'stop': 'oui')"
    )
    assert rows["3"]["message"] == "not sent: +33623456789 in the STOP list stop.txt (row 1)"
    assert "'peut-être' is neither a yes nor a no: read as opted out" in rows["7"]["message"]
    assert "contacts: 6 rows in" in result.stderr and "1 created, 5 excluded" in result.stderr


def test_validate_plans_the_exclusions_offline(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", CONTACTS)
    result = cli("validate", source, "-o", "plan.csv")
    assert result.exit_code == 0
    outcomes = [row["outcome"] for row in read_results(tmp_path / "plan.csv")]
    assert outcomes == ["excluded", "planned", "planned", "excluded", "excluded", "excluded"]


@pytest.mark.parametrize("form", ["text", "csv", "xlsx", "csv-no-header"])
def test_stop_lists_in_every_form(cli, tmp_path, form: str) -> None:
    numbers = ["0623456789", "+33 6 34 56 78 90"]
    if form == "text":
        stop = write(tmp_path / "stop.txt", "\n".join(numbers) + "\n")
    elif form == "csv":
        stop = write(
            tmp_path / "stop.csv", "Numéro;Date\n" + "".join(f"{n};2024-01-02\n" for n in numbers)
        )
    elif form == "csv-no-header":
        stop = write(tmp_path / "stop.csv", "".join(f"{n},2024-01-02\n" for n in numbers))
    else:
        stop = tmp_path / "stop.xlsx"
        book = Workbook()
        book.active.append(["Téléphone"])
        for number in numbers:
            book.active.append([number])
        book.save(stop)
    source = write(tmp_path / "in.csv", CONTACTS.replace(",non\n", ",\n"))
    result = cli("validate", source, "--exclude", stop, "--default-country", "FR", "-o", "p.csv")
    assert result.exit_code == 0, result.stderr
    rows = by_row(tmp_path / "p.csv")
    assert rows["3"]["outcome"] == rows["4"]["outcome"] == "excluded"
    assert "read as FR (--default-country)" in rows["3"]["message"]


def test_stop_numbers_without_a_prefix_need_a_country(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", CONTACTS)
    stop = write(tmp_path / "stop.txt", "+33699999999\n0623456789\n")
    result = cli("validate", source, "--exclude", stop, "-o", "p.csv")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"avosms-import: {stop}: 1 number without a country prefix (first: '0623456789' on "
        "row 2): give --default-country, or a --list with its country, or write them with "
        "their prefix (+33…)"
    ]


def test_stop_numbers_read_in_the_one_lists_country(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "téléphone,pays\n0470123456,BE\n0470654321,BE\n")
    stop = write(tmp_path / "stop.txt", "0470 65 43 21\n")
    result = cli("validate", source, "--list", "Bruxelles", "--exclude", stop, "-o", "p.csv")
    assert result.exit_code == 0, result.stderr
    rows = by_row(tmp_path / "p.csv")
    assert rows["2"]["outcome"] == "planned"
    assert rows["3"]["message"] == (
        "not sent: +32470654321 in the STOP list stop.txt (row 1); read as BE (the country "
        "of list 'Bruxelles')"
    )


def test_an_opted_out_row_with_an_unreadable_number(cli, tmp_path) -> None:
    source = write(
        tmp_path / "in.csv",
        "liste,pays,téléphone,désabonné\n"
        "Clients,FR,06 12 34 56 7,oui\n"  # unreadable, but the STOP list has it as written
        "Clients,FR,n/a,oui\n"  # unreadable and nowhere: invalid
        "Clients,BE,+33 6 23 45 67 89,oui\n"  # a French number in a Belgian list: still hers
        "Autres,FR,0623456789,\n",
    )
    stop = write(tmp_path / "stop.txt", "0612.34.56.7\n")
    result = cli("validate", source, "--exclude", stop, "--default-country", "FR", "-o", "p.csv")
    rows = by_row(tmp_path / "p.csv")
    assert rows["2"]["outcome"] == "excluded"
    assert "in the STOP list stop.txt (row 1)" in rows["2"]["message"]
    assert (rows["3"]["outcome"], rows["3"]["code"]) == ("invalid", "ERR_106")
    assert rows["3"]["message"].endswith("; the row opted out: not sent anyway")
    assert rows["4"]["outcome"] == rows["5"]["outcome"] == "excluded"
    assert result.exit_code == 1  # the invalid row


def test_excluded_numbers_already_in_a_list_are_reported(cli, creds, tmp_path) -> None:
    seed = [
        {"listContactName": "Clients", "contactTelephoneNumber": "0612345678"},
        {"listContactName": "Clients", "contactTelephoneNumber": "0699999999"},
        {"listContactName": "Clients", "contactTelephoneNumber": "0634567890"},
    ]
    source = write(tmp_path / "in.csv", "liste,pays,téléphone,stop\nClients,FR,0612345678,1\n")
    stop = write(tmp_path / "stop.txt", "+33699999999\n")
    with SandboxServer(existing_lists=[("Clients", "FR")], existing_contacts=seed) as server:
        plan = cli(
            "validate", source, "--check-account", "--exclude", stop, "--base-url", server.url
        )
        result = cli("run", source, "--exclude", stop, "--base-url", server.url, "-o", "o.json")
        assert server.stats.add_requests == {} and server.stats.delete_requests == {}
    summary = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))["summary"]
    # Keyed by list key (the one "same name" rule's), as `--sync` finds the lists.
    assert summary["excluded_present"] == {"clients": ["+33612345678", "+33699999999"]}
    for said in (plan.stderr, result.stderr):
        assert (
            "list 'Clients' already holds 2 excluded numbers (+33612345678, +33699999999): "
            "an import leaves them there; --sync removes them"
        ) in said
        assert "1 excluded" in said and ", 2 excluded numbers still in a list" in said
    assert result.exit_code == 0


def test_exclude_in_a_job_file(cli, tmp_path) -> None:
    write(tmp_path / "in.csv", CONTACTS)
    write(tmp_path / "stop.txt", "+33634567890\n")
    job = write(tmp_path / "job.yaml", "input: in.csv\nexclude: stop.txt\noutput: p.csv\n")
    assert cli("validate", "--job", job).exit_code == 0
    assert by_row(tmp_path / "p.csv")["4"]["outcome"] == "excluded"
    missing = cli("validate", "--job", job, "--exclude", tmp_path / "nowhere.txt")
    assert missing.exit_code == 2
    assert "nowhere.txt: cannot read the STOP list" in missing.stderr


def test_a_stop_list_of_words_is_refused_in_one_line(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", CONTACTS)
    stop = write(tmp_path / "stop.csv", "nom,ville\nDupont,Paris\n")
    result = cli("validate", source, "--exclude", stop)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"avosms-import: {stop}: no column for the number;")


@pytest.mark.parametrize("second", ["Unsubscribed", "Désabonné", "Tél. fixe"])
def test_a_stop_lists_opt_out_column_is_not_a_number_candidate(cli, tmp_path, second) -> None:
    """Beside a phone column an opt-out header holds flags, not numbers."""
    source = write(
        tmp_path / "in.csv", "Liste,Pays,Mobile\nClients,FR,0612345678\nClients,FR,0611111111\n"
    )
    stop = write(tmp_path / "stop.csv", f"Mobile,{second}\n+33612345678,1\n")
    result = cli("validate", source, "--exclude", stop, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    rows = by_row(tmp_path / "out.csv")
    assert [rows["2"]["outcome"], rows["3"]["outcome"]] == ["excluded", "planned"]


def test_a_stop_list_under_an_opt_out_header_alone(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "Liste,Pays,Mobile\nClients,FR,0612345678\n")
    stop = write(tmp_path / "stop.csv", "Unsubscribed\n+33612345678\n")
    result = cli("validate", source, "--exclude", stop, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert by_row(tmp_path / "out.csv")["2"]["outcome"] == "excluded"


# -- properties ------------------------------------------------------------------------------

_spellings = st.sampled_from(sorted(TRUTHY | FALSY)).flatmap(
    lambda value: st.tuples(
        st.just(value),
        st.sampled_from([str.upper, str.lower, str.title, lambda text: f"  {text} "]),
    )
)


@given(_spellings)
def test_yes_and_no_in_any_case_and_spacing(spelled) -> None:
    value, spell = spelled
    assert read_opt_out(spell(value)).opted_out is (value in TRUTHY)
    assert read_opt_out(spell(value)).note == ""


@given(st.text(max_size=12))
def test_anything_else_is_an_opt_out_with_a_note(text: str) -> None:
    said = read_opt_out(text)
    if said.note:
        assert said.opted_out  # consent is never assumed
    assert said.opted_out or not said.note


def _spell(national: str) -> st.SearchStrategy[str]:
    """Ways people write one French mobile (`6…` without its 0)."""
    pairs = " ".join(national[i : i + 2] for i in range(1, len(national), 2))
    return st.sampled_from(
        [
            f"0{national}",
            f"+33{national}",
            f"0033 {national}",
            f"0{national[0]} {pairs}",
            f"+33 (0){national}",
            f"0{national[0]}.{pairs.replace(' ', '.')}",
        ]
    )


@settings(max_examples=60, deadline=None)
@given(
    # Mainland mobiles only: 0639 is Mayotte's and 069x the overseas departments' (ERR_107 in FR).
    st.from_regex(r"6[12][0-9]{7}", fullmatch=True).flatmap(
        lambda national: st.tuples(_spell(national), _spell(national), _spell(national))
    ),
    st.integers(min_value=0, max_value=2),
)
def test_a_number_is_excluded_however_it_is_written(spellings, stop_at: int) -> None:
    """The file's rows and the STOP list spell the number differently: every row is excluded,
    wherever the STOP list's spelling falls, and no row is `duplicate`."""
    file_rows = [s for i, s in enumerate(spellings) if i != stop_at]
    source = pd.DataFrame(
        {
            "row": list(range(2, 2 + len(file_rows) + 1)),
            "list_name": ["A"] * len(file_rows) + ["B"],
            "country": ["FR"] * (len(file_rows) + 1),
            "phone": [*file_rows, "0780000000"],
        }
    )
    stop = StopList(Path("stop.txt"), ((1, spellings[stop_at]),))
    frame = prepare(source, ContactOptions(default_country="FR", exclude=stop))
    assert list(frame["outcome"]) == ["excluded"] * len(file_rows) + ["planned"]
    assert clean_number(spellings[stop_at]).lstrip("+0") != ""


def test_read_stop_list_keeps_the_rows_you_see(tmp_path) -> None:
    path = write(tmp_path / "stop.csv", "Export du 2 mai\n\nphone\n0612345678\n\n+33623456789\n")
    assert read_stop_list(path).entries == ((4, "0612345678"), (6, "+33623456789"))


def test_a_finished_job_run_again_sends_nothing_and_its_results_rebuild(cli, creds, tmp_path):
    source = write(tmp_path / "in.csv", CONTACTS)
    stop = write(tmp_path / "stop.txt", "+33623456789\n")
    with SandboxServer() as server:
        first = cli("run", source, "--exclude", stop, "--base-url", server.url, "-o", "a.csv")
        adds = sum(server.stats.add_requests.values())
        again = cli("run", source, "--exclude", stop, "--base-url", server.url, "-o", "b.csv")
        assert sum(server.stats.add_requests.values()) == adds == 1
    assert first.exit_code == again.exit_code == 0
    rebuilt = cli("results", "1", "-o", "rebuilt.csv")
    assert rebuilt.exit_code == 0
    outcomes = [row["outcome"] for row in read_results(tmp_path / "rebuilt.csv")]
    assert outcomes.count("excluded") == 5
    assert [row["outcome"] for row in read_results(tmp_path / "b.csv")].count("excluded") == 5


@pytest.mark.parametrize(
    "header",
    ["stop", "stopSms", "opt out", "optout", "unsubscribed", "désabonné", "Blacklisted", "blocked"],
)
@pytest.mark.parametrize(("cell", "outcome"), [("oui", "excluded"), ("non", "planned")])
def test_every_opt_out_header(cli, tmp_path, header: str, cell: str, outcome: str) -> None:
    source = write(
        tmp_path / "in.csv", f"liste,pays,téléphone,{header}\nClients,FR,0612345678,{cell}\n"
    )
    assert cli("validate", source, "-o", "p.csv").exit_code == 0
    assert read_results(tmp_path / "p.csv")[0]["outcome"] == outcome
