"""What one AvoSMS attempt answered, and what its code means for retries and for the account.

In: an `HttpAnswer` (or the `TransportError` of a request that got none). Out: a `Reply` whose
code is the API's own (``OK``, ``ERR_1xx``, ``ERR_9xx``) or a local token saying what was wrong
(``HTTP_503``, ``TIMEOUT``, ``CONNECTION``, ``BAD_ANSWER``, ...). Also declared here, once:
which codes are retried (`RetryPolicy`), which attempts may have acted on the account unseen
(`may_have_been_processed`), what the create endpoint's ERR_1xx codes mean, and `CreateAnswer`,
what a request came to after its retries. `importer.client` sends the requests; this module
sends nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from importer.masking import mask_bytes, mask_text
from importer.records import LocalCode, http_code
from importer.throttle import parse_retry_after
from importer.transport import MAX_ANSWER_BYTES, HttpAnswer, TransportError

#: Seconds a server is assumed to go on working, at least, on a request we stopped waiting for:
#: an account re-read settles a timed-out attempt only once max(timeout, this) has passed.
LATE_PROCESSING_GRACE = 3.0

_KNOWN_CODE = re.compile(r"OK|ERR_[19]\d\d")

#: What the create endpoint's ERR_1xx codes mean, in the operator's words.
CREATE_CODE_MESSAGES: Mapping[str, str] = {
    "ERR_101": "the API says the list name is empty (ERR_101)",
    "ERR_102": "the API says the country code is empty (ERR_102)",
    "ERR_103": "the API knows no country with this ISO code (ERR_103)",
    "ERR_104": "the list name is not available: already used on the account (ERR_104)",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Which answers are retried, how often and how long to wait: the one place to change it.

    Retried (``retry_on_codes`` holds code prefixes): ERR_9xx (a processing error on the API's
    side), HTTP 5xx, HTTP 429 and 408, timeouts, connection errors and garbled answers (which
    may be transient). Never retried: ERR_1xx (the API's verdict on the row), other HTTP
    3xx/4xx, and ERR_100 (credentials refused: the run stops at once).
    Waits are exponential with full jitter: before retry n, a random time in
    ``[0, min(backoff_initial * 2**(n-1), backoff_max)]``, and at least any ``Retry-After``
    (capped at ``retry_after_max``), which every worker honours.
    ``burst_9xx_count`` ERR_9xx within ``burst_9xx_window`` seconds, when they are at least
    ``burst_9xx_share`` of the answers in that window, halve the throttle's rate like a 429.
    """

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0
    retry_on_codes: frozenset[str] = frozenset(
        {
            "ERR_9",
            "HTTP_5",
            "HTTP_429",
            "HTTP_408",
            LocalCode.TIMEOUT.value,
            LocalCode.CONNECTION.value,
            LocalCode.BAD_ANSWER.value,
        }
    )
    burst_9xx_count: int = 3
    burst_9xx_window: float = 1.0
    burst_9xx_share: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.backoff_initial < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise ValueError("backoff and Retry-After limits must be >= 0 seconds")

    def retries(self, code: str) -> bool:
        """Whether an attempt that answered `code` is tried again."""
        return code.startswith(tuple(self.retry_on_codes))


@dataclass(frozen=True)
class CreateAnswer:
    """What became of one create request, after its retries.

    ``uncertain`` counts the attempts that may have been processed without our learning what
    they did (see `may_have_been_processed`); ``settle_delay`` is how long after the final
    answer the server may still be working on one of them (when one timed out: the timeout,
    and at least `LATE_PROCESSING_GRACE`).
    """

    code: str
    list_contact_id: str
    message: str
    attempts: int
    uncertain: int = 0
    settle_delay: float = 0.0


@dataclass(frozen=True)
class Reply:
    """One HTTP attempt, classified: its code, an operator's message (never the key: the client
    masks it), the answer's JSON object when it carries an API code, and any Retry-After."""

    code: str
    message: str
    payload: dict[str, Any] | None = None
    retry_after: float | None = None
    #: The request provably never reached the server (connection refused, name not resolved).
    unreached: bool = False


def may_have_been_processed(code: str, *, unreached: bool = False) -> bool:
    """Whether an attempt that ended with `code` may have acted on the account unseen.

    Not when it provably never reached the server (`unreached`), nor when its answer says what
    happened (``OK``, ``ERR_1xx``), nor when the server refused it (HTTP 429 or another 4xx).
    Every other failure (ERR_9xx, 5xx, timeout, cut connection, garbled answer) may have been.
    """
    return not (unreached or code == "OK" or code.startswith(("ERR_1", "HTTP_4")))


def transport_failure(error: TransportError) -> Reply:
    """A request without a complete HTTP answer, as a `Reply` coded TIMEOUT or CONNECTION
    (``unreached`` when the transport knows it never reached the server)."""
    if error.timed_out:
        return Reply(LocalCode.TIMEOUT.value, error.reason, unreached=error.unreached)
    message = f"the connection failed ({error.reason})"
    return Reply(LocalCode.CONNECTION.value, message, unreached=error.unreached)


def classify_answer(
    answer: HttpAnswer,
    parse: Callable[[dict[str, Any]], str | None],
    secrets: Sequence[str] = (),
) -> Reply:
    """Turn one HTTP answer into a code: the API's own, or a local token saying what was wrong.

    `parse` checks an ``OK`` answer against what its endpoint promises (`api.answers.PARSERS`):
    None when it holds, else what is missing, which makes the answer ``BAD_ANSWER``.
    `secrets` (the key's forms, `masking.key_forms`) are masked in the body, and in the JSON
    it decodes to, before anything is read from it: no message or payload can quote the key,
    whole or cut short, from a server that echoes the request.
    """
    if secrets and answer.body is not None:
        masked = mask_bytes(answer.body, secrets)
        if masked is not answer.body:  # rare: a server echoing the request
            answer = replace(answer, body=masked)
    status, body = answer.status, answer.body
    label = _status_label(status)
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        return Reply(
            LocalCode.THROTTLED.value,
            f"the API asked to slow down ({label})",
            retry_after=retry_after,
        )
    if status >= 500:
        return Reply(http_code(status), f"the API answered {label}")
    if 300 <= status < 400:
        return Reply(http_code(status), f"the API answered {label} (a redirect): check the URL")
    if body is None:
        return Reply(
            LocalCode.BAD_ANSWER.value,
            f"the API answered {label} with more than {MAX_ANSWER_BYTES // 2**20} MB",
        )
    document, problem = _json_object(body, answer.headers.get("content-type", ""))
    if document is not None and secrets and b"\\" in body:
        # JSON escapes (`\/`, `\u0026`) can spell a key that the bytes did not show.
        try:
            document = _masked_json(document, secrets)
        except RecursionError:
            document, problem = None, "JSON nested too deeply to read"
    code = document.get("code") if document is not None else None
    if not (200 <= status < 300) and not (isinstance(code, str) and _KNOWN_CODE.fullmatch(code)):
        # An HTTP error without one of the API's codes: nothing we can read.
        return Reply(http_code(status), f"the API answered {label}")
    if document is None:
        return Reply(LocalCode.BAD_ANSWER.value, f"the API answered {label} with {problem}")
    if code is None:
        return Reply(LocalCode.BAD_ANSWER.value, f'the API answered {label} with no "code"')
    if not isinstance(code, str) or not _KNOWN_CODE.fullmatch(code.strip()):
        shown = code if isinstance(code, str) else json.dumps(code)
        return Reply(
            LocalCode.BAD_ANSWER.value,
            f"the API answered {label} with an unknown code {_quote(shown)}",
        )
    code = code.strip()
    if code == "OK":
        broken = parse(document)
        if broken is not None:
            return Reply(LocalCode.BAD_ANSWER.value, f"the API answered OK but {broken}")
    if code.startswith("ERR_9"):
        return Reply(code, f"the API answered {code} (a processing error on its side)")
    return Reply(code, f"the API answered {code}", payload=document)


def _json_object(body: bytes, content_type: str) -> tuple[dict[str, Any] | None, str]:
    """The answer as a JSON object, or None and what it was instead."""
    text = body.strip()
    if not text:
        return None, "an empty body instead of JSON"
    if "html" in content_type.lower() or text[:1] == b"<":
        return None, "HTML instead of JSON"
    try:
        document = json.loads(text.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "bytes that are not UTF-8 text instead of JSON"
    except json.JSONDecodeError as error:
        if error.pos >= len(error.doc.rstrip()) or error.msg.startswith("Unterminated"):
            return None, "truncated JSON (the answer stops mid-document)"
        return None, f"text that is not valid JSON ({error.msg} at character {error.pos})"
    except RecursionError:
        return None, "JSON nested too deeply to read"
    if not isinstance(document, dict):
        return None, f"JSON that is not an object (a {type(document).__name__})"
    return document, ""


def _masked_json(value: Any, secrets: Sequence[str]) -> Any:
    """A decoded JSON value with `secrets` masked in every string, names included."""
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, dict):
        return {
            mask_text(name, secrets): _masked_json(item, secrets) for name, item in value.items()
        }
    if isinstance(value, list):
        return [_masked_json(item, secrets) for item in value]
    return value


def _quote(value: str, limit: int = 40) -> str:
    shown = value if len(value) <= limit else value[:limit] + "…"
    return repr(shown)


def _status_label(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"
