"""Schemathesis hooks for scripts/api-fuzz.sh: tokens from the local API's `POST /dev/token`,
and holders in every state, so the fuzzer reaches past `no_recovery_session`.

- Staff routes (`/agent/...`) get a staff token (roles ["agent"]).
- The "this wasn't me" routes (`/report/{token}`) need no sign-in and get no token. Their
  generated tokens are all unknown (410): some cases get a real one instead, from the link
  notice of a file linked for it through the API (read back from `GET /dev/outbox`), so the
  fuzzer meets the 200 answers too. Those files (`FR0001…`) serve only this: other cases never
  link them first (an invoice never moves a link), and a confirmed report freezes its file.
- Citizen routes get a token for a subject picked per test case: mostly a fresh one (so one
  subject's lookup lock does not close the run), some set up through the API first — a
  matching lookup on a seeded file, then a code sent or the file linked by its invoice — and
  some from a small pool that keeps whatever state earlier cases left. The limits (429) and
  locks are met all the same; they are documented answers.
- `seed DIR` writes the registry the local API is started with: the demo files plus
  `FZ0001…` files, each with a recent invoice, one in five without an email.

One failure is waived, narrowly: a lookup whose only refusal is a date of birth after today
or before 1900 (400 `out_of_range`, as `openapi.yaml` says — JSON Schema cannot say "today"),
and a page request whose only refusal is a `next`/`cursor` the API never gave (400; a
cursor is opaque: the stateful phase follows the real ones through the document's links).
"""

import datetime
import os
import random
import re
import shutil
import sys
import threading
import uuid

import schemathesis

API = os.environ.get("API_FUZZ_URL", "http://127.0.0.1:3000")
FILES = 60
REPORT_FILES = 20
RNG = random.Random(int(os.environ.get("API_FUZZ_SEED", "0")) or None)
LOCK = threading.Lock()


def fuzz_file(i):
    """The i-th fuzz file: (number, date of birth, email or None, invoice number)."""
    dob = datetime.date(1950, 1, 1) + datetime.timedelta(days=211 * i)
    email = None if i % 5 == 0 else f"titulaire{i:04d}@exemple.ca"
    return f"FZ{i:04d}", dob.isoformat(), email, f"F-FZ-{i:04d}"


def report_file(i):
    """The i-th file kept for "this wasn't me" tokens: (number, date of birth, email, invoice)."""
    dob = datetime.date(1955, 3, 1) + datetime.timedelta(days=173 * i)
    return f"FR{i:04d}", dob.isoformat(), f"signalement{i:04d}@exemple.ca", f"F-FR-{i:04d}"


def write_seed(directory, today):
    """The demo registry plus the fuzz files, in SPEC §5's CSV format."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "seed", "demo")
    os.makedirs(directory, exist_ok=True)
    for name in ("certificates.csv", "invoices.csv", "links.csv"):
        shutil.copy(os.path.join(root, name), os.path.join(directory, name))
    issued = (today - datetime.timedelta(days=30)).isoformat()
    with open(os.path.join(directory, "certificates.csv"), "a", encoding="utf-8") as out:
        for i in range(1, FILES + 1):
            number, dob, email, _ = fuzz_file(i)
            out.write(f"{number},Titulaire {i},{dob},{email or ''},514-555-{i:04d},{'fr' if i % 2 else 'en'},active,2029-12-31\n")
        for i in range(1, REPORT_FILES + 1):
            number, dob, email, _ = report_file(i)
            out.write(f"{number},Signalement {i},{dob},{email},438-555-{i:04d},{'fr' if i % 2 else 'en'},active,2029-12-31\n")
    with open(os.path.join(directory, "invoices.csv"), "a", encoding="utf-8") as out:
        for i in range(1, FILES + 1):
            number, _, _, invoice = fuzz_file(i)
            out.write(f"{invoice},{number},{issued},245.00\n")
        for i in range(1, REPORT_FILES + 1):
            number, _, _, invoice = report_file(i)
            out.write(f"{invoice},{number},{issued},180.00\n")


def _post(path, body, token=None):
    import requests

    headers = {"authorization": f"Bearer {token}"} if token else {}
    return requests.post(API + path, json=body, headers=headers, timeout=10)


def _get(path):
    import requests

    return requests.get(API + path, timeout=10)


def token(sub, roles=None):
    response = _post("/dev/token", {"sub": sub, **({"roles": roles} if roles else {})})
    response.raise_for_status()
    return response.json()["token"]


POOL = [f"fuzz-pool-{n}" for n in range(6)]


DEMO = ("AG-100001", "1980-02-29", "jeanne.tremblay@exemple.ca", "F-2026-0101")


def _setup(sub, depth, demo=False):
    """Puts a fresh subject in a state through the API: matched, then maybe more. With
    `demo`, on the demo file whose invoice is the document's example (so an example can link)."""
    tok = token(sub)
    number, dob, email, invoice = DEMO if demo else fuzz_file(RNG.randint(1, FILES))
    if _post("/recovery/lookup", {"certificateNumber": number, "dateOfBirth": dob}, tok).status_code != 200:
        return tok
    if depth == "code_sent" and email:
        _post("/recovery/code", {}, tok)
    elif depth == "linked":
        _post("/recovery/invoice", {"invoiceNumber": invoice}, tok)
    elif depth == "assistance":
        _post("/recovery/assistance", {"preferredTime": "any", "language": "fr"}, tok)
    return tok


def citizen_token_for(path):
    with LOCK:
        roll = RNG.random()
        sub = f"fuzz-{uuid.UUID(int=RNG.getrandbits(128)).hex[:16]}"
        pooled = RNG.choice(POOL)
        depth = RNG.choice(["matched", "code_sent", "linked", "assistance"])
    if path == "/recovery/lookup":
        return token(pooled) if roll < 0.2 else token(sub)
    if roll < 0.2:
        return token(pooled)
    if roll < 0.35:
        return token(sub)
    # The invoice example (F-2026-0101) is the demo file AG-100001's: match it sometimes.
    return _setup(sub, depth, demo=path == "/recovery/invoice" and roll < 0.5)


REPORT_LINK = re.compile(r"/signalement/([A-Za-z0-9_-]{22})\b")
# Tokens handed out (a describe may take any of them, used or not), those not confirmed yet,
# and the next FR file to link.
REPORT_TOKENS = []
UNCONFIRMED = []
NEXT_REPORT_FILE = [1]


def new_report_token():
    """A real "this wasn't me" token: the next FR file linked to a fresh subject by its invoice,
    whose link notice carries one. None once every FR file has served (or one failed)."""
    with LOCK:
        i = NEXT_REPORT_FILE[0]
        NEXT_REPORT_FILE[0] += 1
        sub = f"fuzz-report-{uuid.UUID(int=RNG.getrandbits(128)).hex[:16]}"
    if i > REPORT_FILES:
        return None
    number, dob, email, invoice = report_file(i)
    tok = token(sub)
    if _post("/recovery/lookup", {"certificateNumber": number, "dateOfBirth": dob}, tok).status_code != 200:
        return None
    if _post("/recovery/invoice", {"invoiceNumber": invoice}, tok).status_code != 200:
        return None
    for mail in reversed(_get("/dev/outbox").json()):
        found = REPORT_LINK.search(mail.get("text", "")) if mail.get("to") == email else None
        if found:
            return found.group(1)
    return None


@schemathesis.hook
def before_call(context, case, kwargs):
    """Gives some `/report/{token}` cases a real token (see the module's doc): a describe any
    token handed out so far (or a new one), a confirm one not confirmed yet (or a new one)."""
    if case.operation.path != "/report/{token}":
        return
    confirm = case.operation.method.upper() == "POST"
    with LOCK:
        if RNG.random() >= (0.1 if confirm else 0.3):
            return
        pool = UNCONFIRMED if confirm else REPORT_TOKENS
        real = pool.pop(RNG.randrange(len(pool))) if confirm and pool else None
        if not confirm and pool and RNG.random() < 0.8:
            real = RNG.choice(pool)
    if real is None:
        real = new_report_token()
        if real is None:
            return
        with LOCK:
            REPORT_TOKENS.append(real)
            if not confirm:
                UNCONFIRMED.append(real)
    case.path_parameters = {**(case.path_parameters or {}), "token": real}


@schemathesis.auth(refresh_interval=None).skip_for(path_regex="^/(agent|report)/")
class CitizenToken:
    def get(self, case, context):
        return citizen_token_for(case.operation.path)

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.auth().apply_to(path_regex="^/agent/")
class StaffToken:
    def get(self, case, context):
        return token("fuzz-agent", ["agent"])

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _errors(response):
    try:
        body = response.json()
    except ValueError:
        return None
    return [(e.get("field"), e.get("reason")) for e in body.get("errors", [])] if isinstance(body, dict) else None


def _out_of_range_date(value):
    try:
        date = datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return date > datetime.date.today() or date < datetime.date(1900, 1, 1)


def _waived(case, response):
    """Which of the two waivable refusals this is, if it is one."""
    errors = _errors(response)
    path = case.operation.path
    if path == "/recovery/lookup" and errors == [("dateOfBirth", "out_of_range")]:
        if _out_of_range_date((case.body or {}).get("dateOfBirth")):
            return "a date of birth after today or before 1900"
    if path in ("/agent/assistance-requests", "/agent/certificates/{number}/audit") and errors:
        if all(field in ("next", "cursor") and reason == "invalid_format" for field, reason in errors):
            return "a cursor the API never gave"
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but the two a JSON Schema cannot rule out (see the module's doc);
    each one waived is written to $API_FUZZ_WAIVED, so the run can say how many."""
    if getattr(failure, "code", None) != "ST202" or response.status_code != 400:
        return True
    reason = _waived(case, response)
    if reason is None:
        return True
    log = os.environ.get("API_FUZZ_WAIVED")
    if log:
        with LOCK, open(log, "a", encoding="utf-8") as out:
            out.write(f"{case.operation.method.upper()} {case.operation.path}: {reason}\n")
    return False


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "seed":
    write_seed(sys.argv[2], datetime.date.today())
