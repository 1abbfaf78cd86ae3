"""Talk to the AvoSMS API: create one contact list, fetch the account's lists, retry what may pass.

One `Transport` (keep-alive connections pooled for the workers, a deadline per request, no proxy
in clear) is shared by every worker thread. Each HTTP attempt first passes the shared
`Throttle`; retries follow `RetryPolicy`. Each answer is classified once, by
`importer.replies`: the rest of the importer only sees `CreateAnswer` codes (`OK`, `ERR_1xx`,
`ERR_9xx`, `HTTP_503`, `TIMEOUT`, `CONNECTION`, `BAD_ANSWER`, ...).
The key is sent in the form body only and never appears in a message, log line or repr.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from importer import errors
from importer.api.answers import (
    PARSERS,
    AccountContact,
    AccountList,
    account_lists,
    json_text,
    list_contacts,
    parse_nothing,
)
from importer.api.endpoints import (
    CONTACT_ADD,
    LIST_CREATE,
    LIST_INFORMATION,
    LIST_RETRIEVE,
    Endpoint,
)
from importer.api.forms import form_body
from importer.masking import key_forms, mask_text
from importer.records import LocalCode
from importer.replies import (
    CREATE_CODE_MESSAGES,
    LATE_PROCESSING_GRACE,
    CreateAnswer,
    Reply,
    RetryPolicy,
    classify_answer,
    may_have_been_processed,
    transport_failure,
)
from importer.throttle import OutageBreaker, Throttle
from importer.transport import Transport, TransportError

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying
    from tenacity.stop import stop_base

log = logging.getLogger("importer.client")

CREATE_PATH = LIST_CREATE.path
LISTS_PATH = LIST_RETRIEVE.path
#: A Retry-After wait this long (seconds) or longer is logged as it starts: the run then sends
#: nothing for a while, and a log that stays silent so long looks like a hung job. Shorter
#: waits are as long as an ordinary retry's backoff and are left out of the log.
LONG_WAIT = 10.0


@dataclass(frozen=True)
class Credentials:
    """The account's API id (its e-mail) and key; the key never shows in a repr."""

    id: str
    key: str = field(repr=False)


class ApiUnavailable(errors.RunStopped):
    """The account's lists could not be fetched, even after retries."""


class AvoSmsClient:
    """The AvoSMS API over one pooled session, safe to share between worker threads."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float = 30,
        retry: RetryPolicy | None = None,
        limiter: Throttle | None = None,
        breaker: OutageBreaker | None = None,
        pool_size: int = 4,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`stop`, once set, ends retries early (the last failure is returned) and raises
        errors.Interrupted for a request not sent yet. `sleep` defaults to a wait that `stop`
        cuts short. `environ` holds the proxy variables an `https://` API honours (default:
        none). ConfigError for an unusable address or proxy."""
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._timeout = timeout
        self._retry = retry if retry is not None else RetryPolicy()
        # Without a limiter, an unlimited one still carries Retry-After waits.
        self._limiter = limiter if limiter is not None else Throttle(0)
        self._breaker = breaker
        self._stop = stop
        self._clock = clock
        self._sleep = sleep
        self._recent_lock = threading.Lock()
        self._recent: deque[tuple[float, bool]] = deque()
        #: True once the API answered `OK`: the credentials are good for this run.
        self.credentials_accepted = False
        # Room for the workers and the account re-reads that run beside them.
        # The account's fields lead every form (encoded once); the key is in no repr.
        self._account_form = form_body("", {"id": credentials.id, "key": credentials.key})
        self._key_forms = key_forms(credentials.key)
        self._transport = Transport(
            self.base_url, timeout=timeout, pool_size=pool_size + 2, environ=environ
        )

    def __repr__(self) -> str:
        return f"AvoSmsClient(base_url={self.base_url!r}, id={self._credentials.id!r})"

    def __enter__(self) -> AvoSmsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def throttled_seconds(self) -> float:
        """Seconds spent waiting on the rate limit and Retry-After (for the run summary)."""
        return self._limiter.waited_seconds

    def close(self) -> None:
        """Release the pooled connections."""
        self._transport.close()

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force (which codes are worth another attempt)."""
        return self._retry

    def create_list(
        self, name: str, country_code: str, *, on_send: Callable[[], None] | None = None
    ) -> CreateAnswer:
        """Create one contact list, retrying what may pass; every failure becomes an answer.

        `on_send` is called (in the calling thread) as each attempt goes out, so a caller that
        stops waiting knows whether anything was sent. Raises errors.CredentialsRefused on
        ERR_100, errors.OutageDetected when the breaker trips, errors.Interrupted when `stop`
        was set before anything was sent.
        """
        form = {"listContactName": name, "listContactCountryCode": country_code}
        fates = _Fates(on_send=on_send)
        reply, attempts = self._call(CREATE_PATH, form, f"create list {name!r}", fates)
        delay = max(self._timeout, LATE_PROCESSING_GRACE) if fates.timed_out else 0.0
        if reply.code == "OK":
            list_id = json_text((reply.payload or {}).get("list_contact_id"))
            return CreateAnswer("OK", list_id, "created", attempts, fates.uncertain, delay)
        if reply.code.startswith("ERR_1"):
            message = CREATE_CODE_MESSAGES.get(
                reply.code, f"the API refused the request ({reply.code})"
            )
            return CreateAnswer(reply.code, "", message, attempts, fates.uncertain, delay)
        message = self._final_message(reply, attempts)
        return CreateAnswer(reply.code, "", message, attempts, fates.uncertain, delay)

    def fetch_lists(self) -> list[AccountList]:
        """Every contact list on the account (`[]` for an empty account).

        Raises ApiUnavailable when the API keeps failing, errors.CredentialsRefused on ERR_100.
        """
        reply, attempts = self._call(LISTS_PATH, {}, "fetch the account's lists")
        if reply.code == "OK":
            return account_lists(reply.payload or {})
        if reply.code == "ERR_101":
            # Like its sibling endpoints, /contact/list may answer ERR_101 for "no list": the
            # API knew the account, so the key is good (refused, it answers ERR_100).
            self.credentials_accepted = True
            return []
        if reply.code.startswith("ERR_1"):
            raise ApiUnavailable(
                f"could not fetch the account's lists: the API answered {reply.code}"
            )
        raise ApiUnavailable(
            f"could not fetch the account's lists: {self._final_message(reply, attempts)}"
        )

    def fetch_list_contacts(self, list_contact_id: str) -> list[AccountContact]:
        """Every contact of one list on the account (`/contact/list/information`).

        Raises ApiUnavailable when the API keeps failing or does not know the list,
        errors.CredentialsRefused on ERR_100.
        """
        form = {"listContactId": list_contact_id}
        what = f"read the contacts of list {list_contact_id}"
        reply, attempts = self._call(LIST_INFORMATION.path, form, what)
        if reply.code == "OK":
            return list_contacts(reply.payload or {})
        if reply.code.startswith("ERR_1"):
            meaning = LIST_INFORMATION.meaning(reply.code)
            raise ApiUnavailable(f"could not {what}: {meaning} ({reply.code})")
        raise ApiUnavailable(f"could not {what}: {self._final_message(reply, attempts)}")

    def change_contact(
        self,
        endpoint: Endpoint,
        list_contact_id: str,
        number: str,
        fields: Mapping[str, str],
        *,
        on_send: Callable[[], None] | None = None,
    ) -> CreateAnswer:
        """Add, update or delete one contact of a list (`CONTACT_ADD`, `CONTACT_UPDATE`,
        `CONTACT_DELETE`), retrying what may pass.

        `fields` are request field names (`contactName`, ...): an add leaves empty ones out, an
        update sends every one (the API blanks a field left out). The answer's
        `list_contact_id` is the list's. `on_send` and the errors raised are as for `create_list`.
        """
        form = {"listContactId": list_contact_id, "contactTelephoneNumber": number}
        form.update(
            {
                name: value
                for name, value in fields.items()
                if value or endpoint.path != CONTACT_ADD.path
            }
        )
        fates = _Fates(on_send=on_send)
        what = f"{endpoint.name} {number} (list {list_contact_id})"
        reply, attempts = self._call(endpoint.path, form, what, fates)
        delay = max(self._timeout, LATE_PROCESSING_GRACE) if fates.timed_out else 0.0
        if reply.code == "OK":
            message = "done"
        elif reply.code.startswith("ERR_1"):
            message = f"the API says: {endpoint.meaning(reply.code)} ({reply.code})"
        else:
            message = self._final_message(reply, attempts)
        list_id = list_contact_id if reply.code == "OK" else ""
        return CreateAnswer(reply.code, list_id, message, attempts, fates.uncertain, delay)

    # -- one call, with its retries -------------------------------------------------------

    def _call(
        self, path: str, fields: Mapping[str, str], what: str, fates: _Fates | None = None
    ) -> tuple[Reply, int]:
        """One request with its retries: the last reply and how many attempts were sent.

        `fates` counts the attempts that may have been processed unseen; a `RunStopped`
        raised after such an attempt carries that count (``uncertain_attempts``).
        """
        fates = fates if fates is not None else _Fates()
        form = form_body(self._account_form, fields).encode("ascii")
        parse = PARSERS.get(path, parse_nothing)
        sent = 0
        last: Reply | None = None

        def attempt() -> Reply:
            nonlocal sent, last
            if self._stopping() or not self._limiter.acquire(self._stop):
                if last is None:
                    raise errors.Interrupted("the run stopped before this request was sent")
                return last  # the stop condition ends the retries with the last failure
            self._check_breaker()
            sent += 1
            if fates.on_send is not None:
                fates.on_send()
            last = self._exchange(path, form, parse, fates)
            return last

        try:
            first = attempt()
            if self._retry.max_attempts == 1 or not self._retry.retries(first.code):
                return first, sent  # the common case, without building the retry machinery
            reply: Reply = self._retrying(what)(_replaying(first, attempt))
        except errors.RunStopped as error:
            error.uncertain_attempts = fates.uncertain
            error.last_code = last.code if last is not None else ""
            raise
        return reply, sent

    def _retrying(self, what: str) -> Retrying:
        """The retry policy as tenacity runs it, for one request."""
        import tenacity  # with the first retry: most runs never need it

        stops: list[stop_base] = [tenacity.stop_after_attempt(self._retry.max_attempts)]
        if self._stop is not None:
            stops.append(tenacity.stop_when_event_set(self._stop))
        return tenacity.Retrying(
            sleep=self._pause,
            stop=tenacity.stop_any(*stops),
            wait=tenacity.wait_random_exponential(
                multiplier=self._retry.backoff_initial, max=self._retry.backoff_max
            ),
            retry=tenacity.retry_if_result(lambda reply: self._retry.retries(reply.code)),
            before_sleep=lambda state: self._log_retry(state, what),
            retry_error_callback=lambda state: _outcome(state),
            reraise=True,
        )

    def _exchange(
        self,
        path: str,
        form: bytes,
        parse: Callable[[dict[str, Any]], str | None],
        fates: _Fates,
    ) -> Reply:
        """Send one request and classify its answer; only ERR_100 and the breaker raise."""
        try:
            answer = self._transport.post_form(path, form)
        except TransportError as error:
            reply = transport_failure(error)
        else:
            # The key is masked in the answer itself, before any message quotes (and cuts) it.
            reply = classify_answer(answer, parse, self._key_forms)
        # A second net, for a message no answer built (another library's words, say).
        masked = mask_text(reply.message, self._key_forms)
        if masked != reply.message:
            reply = replace(reply, message=masked)
        fates.note(reply)
        self._observe(reply)
        if reply.code == "OK":
            self.credentials_accepted = True
        elif reply.code == "ERR_100":
            refused = f"the API refused the credentials (ERR_100) for id {self._credentials.id}"
            raise errors.CredentialsRefused(mask_text(refused, self._key_forms))
        return reply

    def _observe(self, reply: Reply) -> None:
        """Feed one attempt's outcome to the breaker and the throttle's rate adaptation."""
        healthy = reply.code == "OK" or reply.code.startswith("ERR_1")
        if self._breaker is not None:
            self._breaker.record(healthy, reply.code)
        if healthy:
            self._limiter.reward()
        elif reply.code == LocalCode.THROTTLED.value:
            asked = reply.retry_after
            if asked is None:
                self._limiter.penalize(None)
            else:
                wait = min(asked, self._retry.retry_after_max)
                if self._limiter.penalize(wait) >= LONG_WAIT:
                    _log_long_wait(asked, wait)
        self._track_9xx(reply.code.startswith("ERR_9"))
        if not healthy:
            self._check_breaker()

    def _track_9xx(self, is_9xx: bool) -> None:
        policy = self._retry
        with self._recent_lock:
            now = self._clock()
            self._recent.append((now, is_9xx))
            while self._recent and self._recent[0][0] < now - policy.burst_9xx_window:
                self._recent.popleft()
            if not is_9xx:
                return
            count = sum(1 for _, flag in self._recent if flag)
            burst = count >= policy.burst_9xx_count and count >= policy.burst_9xx_share * len(
                self._recent
            )
            if burst:
                self._recent.clear()
        if burst:
            log.debug("a burst of ERR_9xx answers: halving the request rate")
            self._limiter.penalize(None)

    def _check_breaker(self) -> None:
        if self._breaker is not None and self._breaker.tripped:
            raise errors.OutageDetected(self._breaker.describe())

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _pause(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif self._stop is not None:
            self._stop.wait(seconds)
        else:
            time.sleep(seconds)

    def _final_message(self, reply: Reply, attempts: int) -> str:
        plural = "attempt" if attempts == 1 else "attempts"
        message = f"{reply.message} after {attempts} {plural}"
        if self._stopping() and attempts < self._retry.max_attempts:
            message += " (the run was stopping)"
        return message

    def _log_retry(self, state: RetryCallState, what: str) -> None:
        reply = _outcome(state)
        log.debug(
            "%s: %s (attempt %d of %d); retrying in %.2f s",
            what,
            reply.message,
            state.attempt_number,
            self._retry.max_attempts,
            state.upcoming_sleep,
        )


@dataclass
class _Fates:
    """What one request's attempts may have done on the account without our knowing."""

    uncertain: int = 0
    timed_out: bool = False
    #: Called as each attempt goes out (`AvoSmsClient.create_list`'s `on_send`).
    on_send: Callable[[], None] | None = None

    def note(self, reply: Reply) -> None:
        if may_have_been_processed(reply.code, unreached=reply.unreached):
            self.uncertain += 1
            self.timed_out = self.timed_out or reply.code == LocalCode.TIMEOUT.value


def _log_long_wait(asked: float, wait: float) -> None:
    """One warning as a long Retry-After wait starts: how long, until when (local time)."""
    until = (datetime.now().astimezone() + timedelta(seconds=wait)).strftime("%H:%M:%S %Z")
    capped = f" (it asked for {asked:g} s; the importer waits {wait:g} s at most)"
    if asked <= wait:
        capped = ""
    log.warning(
        "the API asked us to slow down (HTTP 429): no request is sent for %g s%s, until %s",
        wait,
        capped,
        until,
    )


def _replaying(first: Reply, attempt: Callable[[], Reply]) -> Callable[[], Reply]:
    """`attempt`, except that its first call gives back `first`, the attempt already made."""
    replay = [first]

    def next_attempt() -> Reply:
        return replay.pop() if replay else attempt()

    return next_attempt


def _outcome(state: RetryCallState) -> Reply:
    assert state.outcome is not None
    reply: Reply = state.outcome.result()
    return reply
