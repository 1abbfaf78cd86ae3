"""The client's contact calls against the real sandbox: reading a list's contacts, adding one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from importer.api.answers import AccountContact
from importer.api.endpoints import CONTACT_ADD
from importer.client import ApiUnavailable, AvoSmsClient, Credentials
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer


def no_sleep(seconds: float) -> None:
    """Retries without waiting."""


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(existing_lists=[("Clients", "FR")]) as running:
        yield running


def client_for(server: SandboxServer) -> AvoSmsClient:
    return AvoSmsClient(server.url, Credentials(DEMO_ID, DEMO_KEY), sleep=no_sleep)


def test_add_then_read_back(server: SandboxServer) -> None:
    (clients,) = server.lists()
    with client_for(server) as client:
        answer = client.change_contact(
            CONTACT_ADD,
            clients.list_contact_id,
            "+33612345678",
            {"contactName": "Dupont", "contactEmail": ""},
        )
        assert (answer.code, answer.list_contact_id, answer.attempts) == (
            "OK",
            clients.list_contact_id,
            1,
        )
        again = client.change_contact(CONTACT_ADD, clients.list_contact_id, "0612345678", {})
        assert again.code == "ERR_105"
        assert again.message == "the API says: number already present in the list (ERR_105)"
        (contact,) = client.fetch_list_contacts(clients.list_contact_id)
    assert contact == AccountContact(
        "+33612345678",
        {
            "contactCivility": "",
            "contactName": "Dupont",
            "contactFirstName": "",
            "contactEmail": "",
            "contactBirthday": "",
            "contactOther": "",
        },
    )


def test_an_unknown_list_cannot_be_read(server: SandboxServer) -> None:
    with (
        client_for(server) as client,
        pytest.raises(ApiUnavailable, match=r"list 999: no list with that id \(ERR_103\)"),
    ):
        client.fetch_list_contacts("999")


def test_an_add_is_retried_on_processing_errors() -> None:
    plan = FaultPlan(error_9xx_rate=0.5, seed=1)
    with SandboxServer(existing_lists=[("Clients", "FR")], faults=plan) as server:
        (clients,) = server.lists()
        with client_for(server) as client:
            answers = [
                client.change_contact(
                    CONTACT_ADD, clients.list_contact_id, f"+336123456{n:02d}", {}
                )
                for n in range(10)
            ]
        assert {answer.code for answer in answers} == {"OK"}
        assert sum(answer.attempts for answer in answers) > 10
        assert server.stats.added.total() == 10
