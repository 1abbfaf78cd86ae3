"""Result codes in plain words: the results' `Summary` sheet, the HTML report and the README
say what each code of the `code` column means (the API's codes per endpoint, from the API
reference; the importer's own tokens)."""

from __future__ import annotations

from importer.api.endpoints import CONTACT_ADD
from importer.records import LIST_CODE_PREFIX

#: Every code of the `code` column in plain words; the HTML report and the README use these.
CODE_EXPLANATIONS: dict[str, str] = {
    "OK": "The list was created (or already existed) on the account.",
    "ERR_100": "AvoSMS refused the credentials (id or key not recognised); the run stopped.",
    "ERR_101": "The list name is empty.",
    "ERR_102": "The country is empty and no default country was given.",
    "ERR_103": "The country is not one AvoSMS knows (not a recognised ISO 3166 country).",
    "ERR_104": "AvoSMS says the name is already used, but no list of that name was found.",
    "ERR_9xx": "AvoSMS had a processing error on its side; retried, then given up.",
    "TIMEOUT": "AvoSMS did not answer in time; retried, then given up.",
    "CONNECTION": "The connection to AvoSMS failed or was cut; retried, then given up.",
    "BAD_ANSWER": "AvoSMS's answer was not a valid API answer; retried, then given up.",
    "HTTP_429": "AvoSMS asked us to slow down (HTTP 429) until the retries ran out.",
    "HTTP_5xx": "The AvoSMS server failed (HTTP 5xx); retried, then given up.",
    "HTTP_4xx": "The AvoSMS server refused the request (HTTP 4xx).",
    "NOT_SENT": "Not sent because the run stopped first; the next run sends it.",
    "DUPLICATE": "Same list name as an earlier row of the file (ignoring case); sent only once.",
    "BAD_CELL": (
        "A workbook cell is not the text it shows (a formula without its value, an error, a "
        "date or a formatted number); the message names the cell. Not sent."
    ),
    "AMBIGUOUS_NAME": (
        "Several lists on the account have this name (ignoring case and spacing); not sent, "
        "or sent without telling which is the row's. The message names their ids: rename or "
        "delete all but one."
    ),
    "OPTED_OUT": "The number opted out (an opt-out column or the --exclude STOP list): never sent.",
    "IN_FLIGHT": (
        "A request for this row was on its way when a second Ctrl-C or SIGTERM stopped the run: "
        "it may have been processed; the next run settles it."
    ),
}

#: Contacts rows: the codes whose meaning differs from a list row's (the others are
#: `/contact/add`'s own, from the endpoint table, or a list's prefixed `LIST_`).
CONTACT_CODE_EXPLANATIONS: dict[str, str] = {
    "OK": "The contact was added to its list (or was already in it).",
    "DUPLICATE": "Same number (in E.164) in the same list as an earlier row; sent only once.",
    "COUNTRY_CONFLICT": (
        "An earlier row names the same list with another country: a list has one country. Not sent."
    ),
}

#: Said of a code this version does not know.
UNKNOWN_CODE_EXPLANATION = "A code this version of the importer does not know."


def explain_code(code: str, kind: str = "") -> str:
    """The plain-words meaning of a result code, including the ERR_9xx and HTTP_5xx families.

    `kind` "contacts": a code of `/contact/add` (or the same check made before sending) means
    what that endpoint's table says; a list stage's code (`LIST_…`) what it means for lists.
    """
    code = code.strip()
    if not code:
        return ""
    if kind == "contacts":
        if code in CONTACT_CODE_EXPLANATIONS:
            return CONTACT_CODE_EXPLANATIONS[code]
        if code.startswith(LIST_CODE_PREFIX):
            return "Its list could not be used: " + explain_code(code[len(LIST_CODE_PREFIX) :])
        if code in CONTACT_ADD.codes:
            meaning = CONTACT_ADD.meaning(code)
            return f"{meaning[0].upper()}{meaning[1:]} (the code of /contact/add)."
    if code in CODE_EXPLANATIONS:
        return CODE_EXPLANATIONS[code]
    upper = code.upper()
    if upper.startswith("ERR_9"):
        return CODE_EXPLANATIONS["ERR_9xx"]
    if upper.startswith("HTTP_5"):
        return CODE_EXPLANATIONS["HTTP_5xx"]
    if upper.startswith("HTTP_4"):
        return CODE_EXPLANATIONS["HTTP_4xx"]
    return CODE_EXPLANATIONS.get(upper, UNKNOWN_CODE_EXPLANATION)
