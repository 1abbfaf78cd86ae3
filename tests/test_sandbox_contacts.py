"""The sandbox's contact endpoints over real HTTP: codes, number checks, faults, counters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from importer.api.endpoints import (
    CONTACT_ADD,
    CONTACT_DELETE,
    CONTACT_UPDATE,
    ENDPOINTS,
    LIST_INFORMATION,
    LIST_RETRIEVE,
)
from importer.errors import ConfigError
from importer.rules.phones import NumberType
from importer.sandbox import (
    DEMO_ID,
    DEMO_KEY,
    FaultPlan,
    SandboxServer,
    load_contacts_file,
)

AUTH = {"id": DEMO_ID, "key": DEMO_KEY}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(existing_lists=[("Clients", "FR"), ("Belges", "BE")]) as running:
        yield running


def post(server: SandboxServer, path: str, **form: str) -> dict[str, Any]:
    answer = requests.post(server.url + path, data={**AUTH, **form}, timeout=10)
    assert answer.status_code == 200
    return answer.json()


def list_id(server: SandboxServer, name: str) -> str:
    return next(x.list_contact_id for x in server.lists() if x.name == name)


def add(server: SandboxServer, number: str, name: str = "Clients", **fields: str) -> str:
    form = {"listContactId": list_id(server, name), "contactTelephoneNumber": number, **fields}
    return str(post(server, CONTACT_ADD.path, **form)["code"])


def test_add_then_information_returns_the_contact_as_sent(server: SandboxServer) -> None:
    assert add(server, "06 12 34 56 78", contactName="Dupont", contactFirstName="Anne") == "OK"
    answer = post(server, LIST_INFORMATION.path, listContactId=list_id(server, "Clients"))
    assert answer["code"] == "OK"
    assert answer["list_contact_name"] == "Clients"
    assert answer["list_contact_country_code"] == "FR"
    assert answer["nb_contact_list"] == "1"
    (contact,) = answer["list_contact"]
    assert contact["contact_telephone_number"] == "06 12 34 56 78"
    assert contact["contact_name"] == "Dupont"
    assert contact["contact_first_name"] == "Anne"
    assert contact["contact_email"] == ""
    lists = post(server, LIST_RETRIEVE.path)["list_contact"]
    assert [x["nb_contact_list"] for x in lists] == ["1", "0"]


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("", "ERR_102"),
        ("not a number", "ERR_106"),
        ("0612", "ERR_106"),
        ("+32 470 12 34 56", "ERR_107"),
        ("0690 12 34 56", "ERR_107"),
        ("01 42 68 53 00", "ERR_108"),
        ("0800 123 456", "ERR_108"),
        ("+33612345678", "OK"),
        ("0612345678", "OK"),
    ],
)
def test_add_checks_the_number_against_the_list_country(
    server: SandboxServer, number: str, code: str
) -> None:
    assert add(server, number) == code


def test_add_compares_numbers_in_e164_for_err_105(server: SandboxServer) -> None:
    assert add(server, "+33 6 12 34 56 78") == "OK"
    assert add(server, "06.12.34.56.78") == "ERR_105"
    assert add(server, "0033612345678") == "ERR_105"
    key = (list_id(server, "Clients"), "+33612345678")
    assert server.stats.add_requests[key] == 3
    assert server.stats.added == {key: 1}


def test_the_list_codes(server: SandboxServer) -> None:
    assert post(server, CONTACT_ADD.path, contactTelephoneNumber="0612345678")["code"] == "ERR_101"
    form = {"listContactId": "999999", "contactTelephoneNumber": "0612345678"}
    assert post(server, CONTACT_ADD.path, **form)["code"] == "ERR_103"
    assert post(server, LIST_INFORMATION.path, listContactId="999999")["code"] == "ERR_103"
    assert post(server, LIST_INFORMATION.path)["code"] == "ERR_101"
    refused = requests.post(
        server.url + CONTACT_ADD.path, data={"id": DEMO_ID, "key": "wrong"}, timeout=10
    ).json()
    assert refused["code"] == "ERR_100"


def test_update_and_delete(server: SandboxServer) -> None:
    clients = list_id(server, "Clients")
    assert add(server, "0612345678", contactName="Dupont", contactEmail="a@b.fr") == "OK"
    form = {"listContactId": clients, "contactTelephoneNumber": "+33612345678"}
    assert post(server, CONTACT_UPDATE.path, **form, contactName="Martin")["code"] == "OK"
    (contact,) = server.contacts(clients)
    assert contact.number == "0612345678"  # the number as first sent stays
    assert contact.fields["contactName"] == "Martin"
    assert contact.fields["contactEmail"] == ""  # update replaces the whole record
    other = {"listContactId": clients, "contactTelephoneNumber": "0699999999"}
    assert post(server, CONTACT_UPDATE.path, **other)["code"] == "ERR_104"
    assert post(server, CONTACT_DELETE.path, **form)["code"] == "OK"
    assert post(server, CONTACT_DELETE.path, **form)["code"] == "ERR_104"
    assert server.contacts(clients) == []
    assert server.stats.update_requests[(clients, "+33612345678")] == 1
    assert server.stats.delete_requests[(clients, "+33612345678")] == 2


def test_a_belgian_list_takes_belgian_numbers(server: SandboxServer) -> None:
    assert add(server, "0470 12 34 56", "Belges") == "OK"
    assert add(server, "+33 6 12 34 56 78", "Belges") == "ERR_107"
    assert add(server, "06 12 34 56 78", "Belges") == "ERR_107"  # a French national form
    assert add(server, "0691 23 45 67 8", "Belges") == "ERR_106"  # valid nowhere near


def test_number_types_widen_what_add_accepts() -> None:
    types = {NumberType.MOBILE, NumberType.FIXED_LINE}
    with SandboxServer(existing_lists=[("Clients", "FR")], number_types=types) as server:
        assert add(server, "01 42 68 53 00") == "OK"


def test_lost_answers_on_adds_are_added_all_the_same() -> None:
    plan = FaultPlan(lost_answer_rate=1.0, seed=3)
    with SandboxServer(existing_lists=[("Clients", "FR")], faults=plan) as server:
        clients = list_id(server, "Clients")
        form = {**AUTH, "listContactId": clients, "contactTelephoneNumber": "0612345678"}
        try:
            answer = requests.post(server.url + CONTACT_ADD.path, data=form, timeout=10)
            assert re.fullmatch(r"ERR_9\d\d", answer.json()["code"])
        except requests.ConnectionError:
            pass  # the other half of lost answers: the connection closes without a word
        assert server.stats.added == {(clients, "+33612345678"): 1}
        assert server.stats.faults["lost_answer"] == 1
        # reads are never lost: the list shows the contact
        info = requests.post(
            server.url + LIST_INFORMATION.path, data={**AUTH, "listContactId": clients}, timeout=10
        ).json()
        assert info["nb_contact_list"] == "1"


def test_reads_only_get_http_errors() -> None:
    plan = FaultPlan(error_9xx_rate=1.0)
    with SandboxServer(existing_lists=[("Clients", "FR")], faults=plan) as server:
        clients = list_id(server, "Clients")
        assert post(server, LIST_INFORMATION.path, listContactId=clients)["code"] == "OK"
        assert re.fullmatch(r"ERR_9\d\d", add(server, "0612345678"))
        assert server.stats.information_requests == {clients: 1}


def test_every_endpoint_path_is_served(server: SandboxServer) -> None:
    for path in ENDPOINTS:
        answer = requests.post(server.url + path, data={"id": DEMO_ID, "key": "x"}, timeout=10)
        assert answer.json()["code"] == "ERR_100", path


def test_contacts_file_seeds_the_lists(tmp_path: Path) -> None:
    seed = tmp_path / "contacts.csv"
    seed.write_text(
        "list,phone,civility,last name\nClients,06 12 34 56 78,M,Dupont\nclients,+33699999999\n",
        encoding="utf-8",
    )
    forms = load_contacts_file(seed)
    assert [form["contactTelephoneNumber"] for form in forms] == ["06 12 34 56 78", "+33699999999"]
    with SandboxServer(existing_lists=[("Clients", "FR")], existing_contacts=forms) as server:
        first, second = server.contacts(list_id(server, "Clients"))
        assert first.fields["contactCivility"] == "M"
        assert first.fields["contactName"] == "Dupont"
        assert second.e164 == "+33699999999"
        assert server.stats.added == {}  # seeds are not counted as the importer's adds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Nowhere,0612345678\n", "line 1: no list 'Nowhere'"),
        ("Clients,0142685300\n", "line 1: '0142685300': number type not allowed (ERR_108)"),
        ("Clients,0612345678\nClients,+33612345678\n", "line 2: '+33612345678': number already"),
        ("Clients\n", "line 1: expected list,phone"),
    ],
)
def test_contacts_file_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    seed = tmp_path / "contacts.csv"
    seed.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        SandboxServer(
            existing_lists=[("Clients", "FR")], existing_contacts=load_contacts_file(seed)
        )
