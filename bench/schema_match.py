"""Schema-matching benchmark: generated tenants with renamed fields and custom objects, against ground truth.

Each tenant has the destination's standard objects under other names (``clients``, ``Kunden``, ``jobs``)
and custom objects with no counterpart (``inspections``, ``vehicles``); their fields are a random subset
of the destination's fields under other names, reordered, plus fields with no counterpart (the right
answer: a new custom field). A source name is made from a *base name* and then restyled (snake, camel,
Pascal, upper, words), shortened (vowels dropped or words cut), reordered and prefixed with the object
(``cust_``) or a platform affix (``x_``, ``__c``), with sampled values of the right format.

Two sets of base names: ``dev`` draws them from the vocabulary the proposer reads
(``shared/mapping/propose/vocabulary.py``); ``held_out`` from :data:`HELD_OUT`, names written apart from
the vocabulary and never added to it, so its score says how the proposer does on names nobody foresaw.

Measured per field: top-1 accuracy (the proposal is the true field, or "new" for a field without a
counterpart), top-3 recall (the truth among the proposal and its first two alternatives), and calibration:
the precision of the proposals at or above the confidence threshold (those applied without a person)
and how many that is. Objects: top-1 accuracy of the object proposal.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from shared.mapping.propose import THRESHOLD, SourceColumn, TargetColumn, propose_fields, propose_object
from shared.mapping.propose.vocabulary import FIELD_CONCEPTS

# Destination objects: (field name, describe type, concept, pick-list options). Three naming dialects.
_ACCOUNT_OPTS = ("Customer", "Partner", "Prospect", "Reseller", "Other")
_STATUS_OPTS = ("New", "Scheduled", "In Progress", "On Hold", "Completed", "Cancelled")
_PRIO_OPTS = ("Low", "Medium", "High", "Urgent")
_ORIGIN_OPTS = ("Phone", "Email", "Web", "Portal")
_SOURCE_OPTS = ("Web", "Referral", "Partner", "Trade Show", "Advertisement")
_INDUSTRY_OPTS = ("Agriculture", "Construction", "Education", "Healthcare", "Manufacturing", "Retail")
DESTINATIONS: dict[str, dict[str, list[tuple[str, str, str, tuple[str, ...]]]]] = {
    "salesforce": {
        "Account": [("Name", "string", "name", ()), ("Phone", "phone", "phone", ()), ("Fax", "phone", "fax", ()),
                    ("Website", "url", "website", ()), ("Industry", "picklist", "industry", _INDUSTRY_OPTS),
                    ("AnnualRevenue", "currency", "annual_revenue", ()),
                    ("NumberOfEmployees", "int", "employees", ()), ("BillingStreet", "textarea", "street", ()),
                    ("BillingCity", "string", "city", ()), ("BillingState", "string", "state", ()),
                    ("BillingPostalCode", "string", "postal_code", ()), ("BillingCountry", "string", "country", ()),
                    ("Description", "textarea", "description", ()), ("Type", "picklist", "account_type", _ACCOUNT_OPTS),
                    ("AccountNumber", "string", "account_number", ()), ("TickerSymbol", "string", "ticker", ()),
                    ("Rating", "picklist", "rating", ("Hot", "Warm", "Cold"))],
        "Contact": [("FirstName", "string", "first_name", ()), ("LastName", "string", "last_name", ()),
                    ("Email", "email", "email", ()), ("Phone", "phone", "phone", ()),
                    ("MobilePhone", "phone", "mobile", ()), ("HomePhone", "phone", "home_phone", ()),
                    ("Title", "string", "title", ()), ("Department", "string", "department", ()),
                    ("Birthdate", "date", "birthdate", ()), ("LeadSource", "picklist", "lead_source", _SOURCE_OPTS),
                    ("AssistantName", "string", "assistant", ()), ("MailingCity", "string", "city", ()),
                    ("Salutation", "picklist", "salutation", ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."))],
        "WorkOrder": [("Subject", "string", "subject", ()), ("Description", "textarea", "description", ()),
                      ("Status", "picklist", "status", _STATUS_OPTS), ("Priority", "picklist", "priority", _PRIO_OPTS),
                      ("StartDate", "datetime", "start_date", ()), ("EndDate", "datetime", "end_date", ())],
        "Asset": [("Name", "string", "name", ()), ("SerialNumber", "string", "serial_number", ()),
                  ("InstallDate", "date", "install_date", ()), ("UsageEndDate", "date", "warranty_end", ()),
                  ("PurchaseDate", "date", "purchase_date", ()), ("Quantity", "double", "quantity", ()),
                  ("Price", "currency", "price", ()), ("Description", "textarea", "description", ())],
        "Opportunity": [("Name", "string", "name", ()), ("Amount", "currency", "amount", ()),
                        ("CloseDate", "date", "close_date", ()), ("Probability", "percent", "probability", ()),
                        ("NextStep", "string", "next_step", ()),
                        ("LeadSource", "picklist", "lead_source", _SOURCE_OPTS),
                        ("Description", "textarea", "description", ())],
    },
    "dataverse": {
        "account": [("name", "String", "name", ()), ("telephone1", "String", "phone", ()),
                    ("fax", "String", "fax", ()), ("websiteurl", "String", "website", ()),
                    ("revenue", "Money", "annual_revenue", ()), ("numberofemployees", "Integer", "employees", ()),
                    ("address1_line1", "String", "street", ()), ("address1_city", "String", "city", ()),
                    ("address1_stateorprovince", "String", "state", ()),
                    ("address1_postalcode", "String", "postal_code", ()), ("address1_country", "String", "country", ()),
                    ("description", "Memo", "description", ()), ("accountnumber", "String", "account_number", ()),
                    ("emailaddress1", "String", "email", ()), ("tickersymbol", "String", "ticker", ())],
        "contact": [("firstname", "String", "first_name", ()), ("lastname", "String", "last_name", ()),
                    ("emailaddress1", "String", "email", ()), ("telephone1", "String", "phone", ()),
                    ("mobilephone", "String", "mobile", ()), ("jobtitle", "String", "title", ()),
                    ("department", "String", "department", ()), ("birthdate", "DateTime", "birthdate", ()),
                    ("assistantname", "String", "assistant", ()), ("address1_city", "String", "city", ()),
                    ("telephone3", "String", "home_phone", ())],
    },
    "odoo": {
        "res.partner": [("name", "char", "name", ()), ("phone", "char", "phone", ()),
                        ("mobile", "char", "mobile", ()), ("email", "char", "email", ()),
                        ("website", "char", "website", ()), ("function", "char", "title", ()),
                        ("street", "char", "street", ()), ("city", "char", "city", ()),
                        ("zip", "char", "postal_code", ()),
                        ("comment", "html", "description", ()), ("ref", "char", "account_number", ())],
        "crm.lead": [("name", "char", "name", ()), ("expected_revenue", "monetary", "amount", ()),
                     ("date_deadline", "date", "close_date", ()), ("probability", "float", "probability", ()),
                     ("description", "html", "description", ()), ("priority", "selection", "priority",
                                                                    ("0", "1", "2", "3"))],
    },
}

#: Tenant names of the destination objects (truth: that object) and custom objects (truth: a new object).
OBJECT_NAMES: dict[str, tuple[str, ...]] = {
    "Account": ("clients", "customers", "Kunden", "companies"), "account": ("clients", "customers", "Kunden"),
    "res.partner": ("clients", "customers", "companies"), "Contact": ("contacts", "people", "Kontakte"),
    "contact": ("contacts", "people"), "WorkOrder": ("jobs", "work_orders", "tickets"),
    "Asset": ("equipment", "assets", "devices"), "Opportunity": ("deals", "opportunities"),
    "crm.lead": ("deals", "opportunities"),
}
CUSTOM_OBJECTS = ("inspections", "vehicles", "warranty_claims", "site_surveys", "permits", "Fahrzeuge",
                  "service_visits_log", "meter_readings")

#: Base names written apart from the vocabulary (never copied into it): the held-out set.
HELD_OUT: dict[str, tuple[str, ...]] = {
    "name": ("business name", "org name", "legal name"), "first_name": ("christian name", "first nm"),
    "last_name": ("last nm", "family nm", "sur name"), "email": ("e mail addr", "mail address", "electronic mail"),
    "phone": ("phone num", "telephone number", "phone main"), "mobile": ("mobile number", "cell number"),
    "fax": ("fax line", "facsimile"), "website": ("homepage url", "internet address", "web url"),
    "title": ("job position", "job function"), "department": ("dept name", "team"),
    "industry": ("industry type", "business sector"), "annual_revenue": ("revenue annual", "yearly turnover"),
    "employees": ("employee total", "staff size", "num staff"), "description": ("long description", "comment"),
    "street": ("street line", "address line"), "city": ("city name", "billing town"),
    "state": ("state code", "province name"), "postal_code": ("postal", "zip postal"),
    "country": ("country name", "country code"), "account_number": ("customer no", "account num"),
    "account_type": ("client type", "type of account"), "birthdate": ("born on", "birth dt"),
    "lead_source": ("source of lead", "lead origin"), "subject": ("job subject", "summary line"),
    "status": ("job status", "current status"), "priority": ("priority level", "urgency level"),
    "serial_number": ("serial code", "serial num"), "install_date": ("installed date", "date installed"),
    "warranty_end": ("warranty ends", "warranty expiration"), "purchase_date": ("purchased on", "buy date"),
    "quantity": ("qty on hand", "unit count"), "price": ("unit cost", "item price"),
    "amount": ("deal amount", "total value"), "close_date": ("close dt", "date closed"),
    "probability": ("win pct", "probability pct"), "next_step": ("next steps", "follow up step"),
    "start_date": ("start dt", "begin date"), "end_date": ("end dt", "finish date"),
    "assistant": ("assistant nm", "assistant contact"), "home_phone": ("home number", "residence phone"),
    "salutation": ("honorific", "name prefix"), "rating": ("account rating", "customer rating"),
    "ticker": ("stock ticker", "exchange symbol"),
}
#: Fields with no counterpart anywhere (truth: a new custom field): name, kind of values.
NO_COUNTERPART: tuple[tuple[str, str], ...] = (
    ("gate code", "text"), ("dog on site", "boolean"), ("parking instructions", "long_text"),
    ("loyalty points", "number"), ("alarm code", "text"), ("key box location", "text"),
    ("referral partner", "text"), ("last survey score", "number"), ("roof type", "picklist"),
    ("boiler model", "text"), ("fuel type", "picklist"), ("access hours", "text"), ("hoa name", "text"),
    ("tank capacity liters", "number"), ("last inspection", "date"), ("portal login", "email"),
    ("drone survey link", "url"), ("site manager mobile", "phone"), ("deposit paid", "currency"),
    ("preferred visit day", "picklist"), ("lockbox", "boolean"), ("meter id", "text"),
)


@dataclass
class Case:
    tenant: int
    object_truth: str | None
    source_object: str
    fields: list[SourceColumn]
    truth: list[str | None]
    targets: list[TargetColumn]
    dest_objects: dict[str, str]


def _restyle(ws: list[str], rng: random.Random) -> str:
    style = rng.choice(("snake", "camel", "pascal", "upper", "words", "snake"))
    if style == "camel":
        return ws[0] + "".join(w.title() for w in ws[1:])
    if style == "pascal":
        return "".join(w.title() for w in ws)
    if style == "upper":
        return "_".join(ws).upper()
    if style == "words":
        return " ".join(w.title() for w in ws)
    return "_".join(ws)


def _shorten(word: str, rng: random.Random) -> str:
    if len(word) <= 4 or rng.random() < 0.5:
        return word
    if rng.random() < 0.5:
        return word[0] + "".join(c for c in word[1:] if c not in "aeiou")
    return word[: rng.choice((3, 4))]


def make_name(base: str, obj_prefix: str, rng: random.Random) -> str:
    """A tenant's spelling of ``base``: shortened words, maybe reordered, an object or platform affix, a style."""
    ws = base.split()
    if rng.random() < 0.35:
        ws = [_shorten(w, rng) for w in ws]
    if len(ws) == 2 and rng.random() < 0.15:
        ws = ws[::-1]
    if rng.random() < 0.2:
        ws = [obj_prefix, *ws]
    name = _restyle(ws, rng)
    affix = rng.random()
    if affix < 0.08:
        name = "x_" + name
    elif affix < 0.16:
        name += "__c"
    return name


_FIRST = ("Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hugo")
_LAST = ("Smith", "García", "Müller", "Okafor", "Nguyen", "Rossi", "Kowalski")
_CITY = ("Lyon", "Austin", "Leeds", "Porto", "Bremen", "Denver")


def sample_values(kind: str, options: tuple[str, ...], concept: str, rng: random.Random, n: int = 25) -> list[Any]:
    """Values of the right format for a field (what discovery would have sampled)."""
    def one() -> Any:
        if options:
            v = rng.choice(options)
            return rng.choice((v, v.lower(), v.upper().replace(" ", "_")))
        if kind == "email":
            return f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower()}@example.{rng.choice(('com', 'de'))}"
        if kind == "phone":
            return f"+1 ({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        if kind == "url":
            return f"https://www.{rng.choice(_LAST).lower()}-{rng.randint(1, 99)}.com"
        if kind in ("date", "datetime"):
            d = f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            return d + ("T10:15:00Z" if kind == "datetime" else "")
        if kind == "currency":
            return round(rng.uniform(10, 90000), 2)
        if kind == "number":
            return rng.randint(1, 5000)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "long_text":
            return " ".join(rng.choice(("pump", "leak", "fixed", "checked", "replaced", "valve")) for _ in range(60))
        if kind == "picklist":
            return rng.choice(("alpha", "beta", "gamma"))
        if concept in ("first_name",):
            return rng.choice(_FIRST)
        if concept in ("last_name", "name", "assistant"):
            return rng.choice(_LAST) + ("" if concept != "name" else f" {rng.choice(('Ltd', 'GmbH', 'Inc'))}")
        if concept == "city":
            return rng.choice(_CITY)
        return f"{rng.choice(('A', 'B', 'K'))}{rng.randint(100, 99999)} {rng.choice(_LAST)}"
    return [one() for _ in range(n)]


_KIND_OF_TYPE = {"phone": "phone", "url": "url", "currency": "currency", "money": "currency", "monetary": "currency",
                 "int": "number", "integer": "number", "double": "number", "float": "number", "percent": "number",
                 "date": "date", "datetime": "datetime", "textarea": "long_text", "memo": "long_text",
                 "html": "long_text"}


def _value_kind(dtype: str, concept: str) -> str:
    if concept == "email":
        return "email"
    if concept in ("phone", "mobile", "fax", "home_phone"):
        return "phone"
    if concept == "website":
        return "url"
    if concept == "birthdate":
        return "date"
    kind = _KIND_OF_TYPE.get(dtype.casefold(), "text")
    return "text" if kind == "long_text" and concept != "description" else kind


def make_cases(which: str, tenants: int, seed: int) -> list[Case]:
    """``which``: ``dev`` (base names from the vocabulary) or ``held_out`` (from :data:`HELD_OUT`)."""
    rng = random.Random(f"{which}:{seed}")
    cases: list[Case] = []
    for t in range(tenants):
        dialect = rng.choice(sorted(DESTINATIONS))
        objects = DESTINATIONS[dialect]
        dest_objects = {o: o for o in objects}
        for obj, fields in objects.items():
            chosen = rng.sample(fields, k=max(2, int(len(fields) * rng.uniform(0.5, 0.9))))
            prefix = rng.choice(("cust", "acct", "ctc", "wo", "co"))
            src: list[SourceColumn] = []
            truth: list[str | None] = []
            for name, dtype, concept, options in chosen:
                pool = FIELD_CONCEPTS[concept][1:] if which == "dev" else HELD_OUT[concept]
                base = rng.choice(pool)
                kind = _value_kind(dtype, concept)
                values = sample_values(kind, options, concept, rng)
                src.append(SourceColumn(name=make_name(base, prefix, rng), type="text", values=values))
                truth.append(name)
            for base, kind in rng.sample(NO_COUNTERPART, k=rng.randint(2, 4)):
                opts = ("Flat", "Pitched", "Metal") if kind == "picklist" else ()
                src.append(SourceColumn(name=make_name(base, prefix, rng), type="text",
                                        values=sample_values(kind, opts, "", rng)))
                truth.append(None)
            order = list(range(len(src)))
            rng.shuffle(order)
            targets = [TargetColumn(name=n, label="", type=d, picklist=list(o)) for n, d, _, o in fields]
            cases.append(Case(t, obj, rng.choice(OBJECT_NAMES[obj]), [src[i] for i in order],
                              [truth[i] for i in order], targets, dest_objects))
        for custom in rng.sample(CUSTOM_OBJECTS, k=2):
            src, truth = [], []
            for base, kind in rng.sample(NO_COUNTERPART, k=5):
                src.append(SourceColumn(name=make_name(base, "x", rng), type="text",
                                        values=sample_values(kind, (), "", rng)))
                truth.append(None)
            cases.append(Case(t, None, custom, src, truth, [], dest_objects))
    return cases


def score(cases: list[Case]) -> dict[str, Any]:
    """Top-1, top-3, precision above the threshold and its coverage, per field; top-1 per object."""
    n = top1 = top3 = above = above_right = objects_right = 0
    started = time.perf_counter()
    for case in cases:
        obj = propose_object(case.source_object, case.source_object, case.dest_objects)
        objects_right += obj.target == case.object_truth
        targets = case.targets if case.object_truth is not None else []
        for proposal, truth in zip(propose_fields(case.fields, targets), case.truth, strict=True):
            n += 1
            right = proposal.target == truth
            top1 += right
            ranked = [proposal.target, *(a.target for a in proposal.alternatives)][:3]
            top3 += truth in ranked
            if proposal.confident:
                above += 1
                above_right += right
    elapsed = time.perf_counter() - started
    return {"fields": n, "objects": len(cases), "top1": round(top1 / n, 4), "top3": round(top3 / n, 4),
            "precision_above_threshold": round(above_right / above, 4) if above else None,
            "share_above_threshold": round(above / n, 4), "object_top1": round(objects_right / len(cases), 4),
            "ms_per_object": round(1000 * elapsed / len(cases), 2), "threshold": THRESHOLD}


def run(tenants: int = 40, seed: int = 13) -> dict[str, dict[str, Any]]:
    return {which: score(make_cases(which, tenants, seed)) for which in ("dev", "held_out")}


def markdown(results: dict[str, dict[str, Any]], commit: str) -> str:
    lines = ["## Schema matching (mapping proposer)", "",
             f"Commit `{commit}`. Produced by `make bench` (`python -m bench --suite schema`): generated tenants "
             "(bench/schema_match.py) with renamed, abbreviated, reordered, affixed and non-English field names, "
             "fields without a counterpart and custom objects, against their ground truth. `dev` takes base names "
             "from the proposer's vocabulary; `held_out` from names written apart from it.", "",
             "| set | fields | top-1 | top-3 recall | precision above threshold | share above threshold "
             "| object top-1 | ms per object |", "|---|---|---|---|---|---|---|---|"]
    for which, r in results.items():
        lines.append(f"| {which} | {r['fields']} | {r['top1']} | {r['top3']} | {r['precision_above_threshold']} "
                     f"| {r['share_above_threshold']} | {r['object_top1']} | {r['ms_per_object']} |")
    lines += ["", f"Threshold {THRESHOLD}: proposals at or above it are applied; those below wait for a person at "
              "the mapping sign-off. Targets: top-1 >= 0.90 and precision above the threshold >= 0.98.", ""]
    return "\n".join(lines)
