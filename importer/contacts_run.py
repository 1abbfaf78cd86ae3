"""`run` of a contacts file: every target list read and planned first, then one request per
contact (an add, an update or a removal).

The stages, on the one engine (`importer.run.execute`, `importer.send.Sender`):
1. one read of the account's lists; the file prepared against their countries;
2. each target list that already exists read once; contacts already in it are `exists`, or
   updates with `--update`; with `--sync`, the contacts the file does not name are removals,
   and the guard (`kinds.contacts_sync`) stops the run here, before anything is sent;
3. every missing target list created through the lists kind (`run.plan_lists`/`send_lists`:
   the same exactly-once rules, journaled as list rows of this run); a row whose list could not
   be created is not sent, its code prefixed `LIST_`;
4. rows an interrupted run added or updated say so ("added by run N (interrupted)"), and with
   `--sync` the contacts it removed are listed again, so the results stay the undo file;
5. every row journaled, then the rest sent (`kinds.contacts_send.ContactSending`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd

from importer import normalize
from importer.errors import RunStopped
from importer.job import (
    Environment,
    RunContext,
    contact_options,
    for_people,
    read_contacts_input,
    send_rows,
)
from importer.kinds.contacts import (
    CONTACT_COLUMNS,
    Action,
    excluded_numbers,
    prepare,
)
from importer.kinds.contacts_plan import ListOnAccount, mark_ambiguous, plan, read_lists
from importer.kinds.contacts_sync import (
    MaxDelete,
    append_removals,
    carried_over,
    check_guard,
    exclusion_reasons,
    removals,
    still_present,
)
from importer.kinds.exclusions import present_in_lists
from importer.kinds.row_notes import NOT_SENT, set_message, with_notes
from importer.list_tally import ListBefore, lists_before, log_plan, tally_lists
from importer.lists_run import plan_lists, read_account_lists, read_watched, send_lists
from importer.records import LIST_CODE_PREFIX, SUCCESS_OUTCOMES, LocalCode, Outcome

if TYPE_CHECKING:
    from importer.client import AccountList
    from importer.kinds.contacts_read import ContactsSource
    from importer.options import JobOptions
    from importer.read import SourceTable

log = logging.getLogger("importer")
#: What the reads of the target lists' contacts do, as a second signal names them.
READ_LISTS = "read the contacts of the lists"


@dataclass
class ContactsJob:
    """The contacts kind's run (`importer.job.Job`)."""

    read_source: ContactsSource
    frame: pd.DataFrame
    options: JobOptions
    env: Environment
    kind: str = "contacts"
    columns: Sequence[str] | None = CONTACT_COLUMNS
    lists_created: int | None = 0
    excluded_present: dict[str, list[str]] = field(default_factory=dict)
    """List key -> excluded numbers (E.164) it already holds on the account (for `--sync`)."""
    lists_before: Mapping[str, ListBefore] = field(default_factory=dict)

    @property
    def source(self) -> SourceTable:
        """How the file was read."""
        return self.read_source.source

    @classmethod
    def read(
        cls, options: JobOptions, env: Environment, read: ContactsSource | None = None
    ) -> ContactsJob:
        """Read (unless `read` is it already) and prepare the file offline (bad input fails
        here, before anything is sent)."""
        read, options = read_contacts_input(options, env, read)
        frame = prepare(read.frame, contact_options(options, read), cells=read.cells)
        return cls(read, frame, options, env)

    def send(self, run: RunContext) -> RunStopped | None:
        """Read the account and plan every row (adds, updates, with `--sync` removals behind
        the guard) before anything is sent; create the missing lists; journal every row; send
        the rest. Raises errors.RemovalRefused, nothing sent, when the guard refuses."""
        from importer.kinds.contacts_send import ContactSending
        from importer.reconcile import KnownList, account_index

        journal, client = run.journal, run.client
        options = contact_options(self.options, self.read_source)
        recorded = False
        stopped_by: RunStopped | None = None
        frame = self.frame
        to_send = _not_sent_yet(frame)  # what a stop before the plan leaves, too
        try:
            account = read_account_lists(run)
            known = account_index(account)
            countries = {key: item.country_code for key, item in known.items()}
            cells = self.read_source.frame
            # Prepared again only when a list on the account has another country than its rows
            # (`prepare` uses the account's country only to check the numbers against it).
            if not _same_regions(frame, countries):
                frame = prepare(cells, options, countries, self.read_source.cells)
                to_send = _not_sent_yet(frame)
                self.frame = frame
            targets = set(frame.loc[to_send, "list_key"].unique())
            ambiguous = {key for key in targets & known.keys() if known[key].others}
            mark_ambiguous(frame, {key: known[key] for key in ambiguous})
            targets -= ambiguous
            excluded = excluded_numbers(frame, options)
            more: set[str] = set()
            if excluded:  # an excluded number may already be in any list the file names
                more = {key for key in set(frame["list_key"]) & known.keys() - targets}
                more = {key for key in more if key and not known[key].others}
            read = {key: known[key] for key in (targets | more) & known.keys()}
            lists = read_watched(run, partial(read_lists, client, read), READ_LISTS)
            plan_rows = partial(plan, update=options.update, clear_empty=options.clear_empty)
            plan_rows(frame, lists, cells=cells)
            held = {key: target.contacts for key, target in lists.items()}
            self.excluded_present = present_in_lists(frame, excluded, held, sync=options.sync)
            removed = frame.iloc[0:0]
            if options.sync:
                removed = removals(frame, lists, exclusion_reasons(frame, excluded))
            missing = targets - known.keys()
            self.lists_before = lists_before(lists, new=missing)
            self._log_plan(frame if removed.empty else pd.concat([frame, removed]))
            if options.sync:
                check_guard(removed, lists, MaxDelete.parse(options.max_delete))
                _not_sent_yet(removed)
            if missing:
                # Journaled before the lists are made, so a run killed meanwhile still shows
                # every row it read (not sent); the full record follows once the lists exist.
                journal.record_contacts(run.run_id, frame)  # its rows to send: not sent yet
                created, found = self._create_lists(frame, missing, run, account)
                country = dict(zip(frame["list_key"], frame["country_code"], strict=True))
                later = {key: KnownList(found[key], country[key], "found") for key in found}
                new = {key: ListOnAccount(created[key], "", {}) for key in created}
                appeared = read_watched(run, partial(read_lists, client, later), READ_LISTS) | new
                plan_rows(frame, appeared, cells=cells)
                self.lists_before = {**self.lists_before, **lists_before(appeared)}
                if options.sync and found:
                    log.warning(
                        "--sync: %d lists appeared on the account during the run (%s): their "
                        "contacts were not compared with the file; the next run syncs them",
                        len(found),
                        ", ".join(sorted(found.values())),
                    )
            changes = journal.interrupted_changes(account=run.scope, before_run=run.run_id)
            _mark_interrupted(frame, changes)
            carried = carried_over(changes, lists, frame) if options.sync else removed.iloc[0:0]
            frame = self.frame = append_removals(frame, removed, carried)
            journal.record_contacts(run.run_id, frame)
            recorded = True
            send_rows(frame, ContactSending(frame, client, journal), run)
        except RunStopped as error:
            stopped_by = error
            if not recorded:
                journal.record_contacts(run.run_id, self.frame)
        self.excluded_present = still_present(self.excluded_present, self.frame)
        return stopped_by

    def _log_plan(self, frame: pd.DataFrame) -> None:
        """The plan per list (`list_tally`), logged before anything is sent: the guard and
        the creation of missing lists come after it."""
        planned = tally_lists(frame, self.lists_before, planning=True)
        log_plan(planned, for_people=for_people(self.options), sync=self.options.sync)

    def _create_lists(
        self,
        frame: pd.DataFrame,
        missing: set[str],
        run: RunContext,
        account: Sequence[AccountList],
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Create the missing target lists through the lists kind; return (created, found
        existing meanwhile) list key -> list id. The contacts rows of a list that could not be
        created are marked here: not sent, their code the list's prefixed `LIST_`."""
        pending = frame["outcome"] == Outcome.PENDING
        first = frame[pending & frame["list_key"].isin(missing)].drop_duplicates("list_key")
        lists = normalize.prepare(
            pd.DataFrame(
                {
                    "row": first["row"].to_numpy(),
                    "list_name": first["list_name"].astype(str).to_numpy(),
                    "country": first["country"].astype(str).to_numpy(),
                }
            ),
            default_country=self.options.default_country,
        )
        try:
            directory = plan_lists(lists, run, account)
            run.journal.record_frame(run.run_id, lists)
            send_lists(lists, directory, run)
        finally:
            self.lists_created = int((lists["outcome"] == Outcome.CREATED).sum())
            mark_unresolved(frame, lists)
        created: dict[str, str] = {}
        found: dict[str, str] = {}
        for key, outcome, list_id in zip(
            lists["name_key"], lists["outcome"], lists["list_contact_id"], strict=True
        ):
            if outcome in SUCCESS_OUTCOMES:
                (created if outcome == Outcome.CREATED else found)[key] = str(list_id)
        return created, found


def mark_unresolved(frame: pd.DataFrame, lists: pd.DataFrame) -> None:
    """Rows whose list was not created or found (`lists`: the lists run's frame): `failed`, or
    `pending` when the list's creation was not tried or its fate is unknown, with the list's
    code prefixed `LIST_` and its message (in place)."""
    for key, outcome, code, message in zip(
        lists["name_key"], lists["outcome"], lists["code"], lists["message"], strict=True
    ):
        if outcome in SUCCESS_OUTCOMES:
            continue
        rows = (frame["list_key"] == key) & (frame["outcome"] == Outcome.PENDING)
        state = Outcome.PENDING if outcome == Outcome.PENDING else Outcome.FAILED
        why = "its list could not be created"
        if state is Outcome.PENDING:  # not tried yet, or its fate unknown: not "could not be"
            why = "its list's creation is not finished"
        set_message(frame, rows, f"not sent: {why} ({message})")
        frame.loc[rows, ["outcome", "code"]] = [state.value, LIST_CODE_PREFIX + str(code)]


def _mark_interrupted(frame: pd.DataFrame, changes: pd.DataFrame) -> None:
    """`exists` rows that an interrupted run added or updated (or may have) say so
    (`changes`: `Journal.interrupted_changes`)."""
    done = {Action.ADD.value: "added", Action.UPDATE.value: "updated"}
    changes = changes[changes["action"].isin(done.keys())]
    if not len(changes):
        return
    by_key = {
        (key, e164): f"{done[action]} by run {run_id} (interrupted)"
        for key, e164, action, run_id in zip(
            changes["list_key"], changes["e164"], changes["action"], changes["run_id"], strict=True
        )
    }
    exists = frame.index[(frame["outcome"] == Outcome.EXISTS) & (frame["row"] > 0)]
    keys = zip(frame.loc[exists, "list_key"], frame.loc[exists, "e164"], strict=True)
    for index, key in zip(exists, keys, strict=True):
        if key in by_key:
            said = str(frame.at[index, "message"])
            frame.at[index, "message"] = by_key[key] + (f"; {said}" if said else "")


def _not_sent_yet(frame: pd.DataFrame) -> pd.Series:
    """Turn `planned` rows into `pending` ones (not sent yet); return which they are."""
    to_send = frame["outcome"] == Outcome.PLANNED
    frame.loc[to_send, ["outcome", "code"]] = [Outcome.PENDING.value, LocalCode.NOT_SENT.value]
    frame.loc[to_send, "message"] = [
        with_notes(NOT_SENT, str(said)) for said in frame.loc[to_send, "message"]
    ]
    return to_send


def _same_regions(frame: pd.DataFrame, account_countries: Mapping[str, str]) -> bool:
    """Whether preparing the rows again with the account's list countries would check every
    number against the country it was checked against offline (`prepare` uses the account's
    country only for that): true when no list on the account has another country than its rows.
    """
    checked = frame["country_code"] != ""
    on_account = frame.loc[checked, "list_key"].map(account_countries)
    found = on_account.notna()
    return bool((on_account[found] == frame.loc[checked, "country_code"][found]).all())
