"""Object-specific rules and derived fields (the bits of Salesforce that are not plain validation).

Kept apart from the generic engine so each rule is visible and testable: Asset needs an
account or contact, Events need a duration or end, Contracts start as Draft, closed Cases
get a ClosedDate, and a ContentVersion creates its ContentDocument and links.
"""

from __future__ import annotations

import base64
import calendar
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sandbox.salesforce.errors import RecordError, SfError
from sandbox.salesforce.standard_objects import CLOSED_STAGES, OPP_STAGES
from sandbox.salesforce.store import sf_datetime
from sandbox.salesforce.values import parse_datetime

if TYPE_CHECKING:
    from sandbox.salesforce.engine import Writer
    from sandbox.salesforce.schema import ObjectDef

FILE_TYPES = {
    "pdf": "PDF",
    "txt": "TEXT",
    "csv": "CSV",
    "png": "PNG",
    "jpg": "JPG",
    "jpeg": "JPEG",
    "gif": "GIF",
    "doc": "WORD",
    "docx": "WORD_X",
    "xls": "EXCEL",
    "xlsx": "EXCEL_X",
    "ppt": "POWER_POINT",
    "pptx": "POWER_POINT_X",
    "zip": "ZIP",
    "html": "HTML",
    "xml": "XML",
    "json": "JSON",
    "rtf": "RTF",
}


def _missing(*names: str) -> RecordError:
    return RecordError(SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", names))


def apply(w: Writer, objdef: ObjectDef, doc: dict[str, Any], before: dict[str, Any] | None) -> None:
    """Derive calculated fields and enforce object rules on the merged record (``before`` None = insert)."""
    name = objdef.name
    if name in ("Contact", "User"):
        doc["Name"] = " ".join(p for p in (doc.get("FirstName"), doc.get("LastName")) if p)
    elif name == "Opportunity":
        _opportunity(doc, before)
    elif name == "Case":
        closed = doc.get("Status") == "Closed"
        doc["IsClosed"] = closed
        if closed and not doc.get("ClosedDate"):
            doc["ClosedDate"] = w.now
        elif not closed:
            doc["ClosedDate"] = None
    elif name == "Task":
        doc["IsClosed"] = doc.get("Status") == "Completed"
        doc["AccountId"] = _activity_account(w, doc)
    elif name == "Event":
        _event(doc)
        doc["AccountId"] = _activity_account(w, doc)
    elif name == "Asset" and not doc.get("AccountId") and not doc.get("ContactId"):
        raise RecordError(
            SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                "Every asset needs an account, a contact, or both.",
                ("AccountId", "ContactId"),
            )
        )
    elif name == "Contract":
        _contract(w, doc, before)
    elif name == "Entitlement":
        _entitlement(doc)
    elif name == "ContentVersion" and before is None:
        _content_version(doc)


def _opportunity(doc: dict[str, Any], before: dict[str, Any] | None) -> None:
    stage = doc.get("StageName")
    stage_changed = before is None or before.get("StageName") != stage
    probability_given = before is not None and before.get("Probability") != doc.get("Probability")
    if (
        stage in OPP_STAGES
        and stage_changed
        and not probability_given
        and (before is not None or doc.get("Probability") is None)
    ):
        doc["Probability"] = float(OPP_STAGES[stage])
    doc["IsClosed"] = stage in CLOSED_STAGES
    doc["IsWon"] = CLOSED_STAGES.get(str(stage), False)


def _activity_account(w: Writer, doc: dict[str, Any]) -> str | None:
    what = doc.get("WhatId")
    if what and str(what).startswith("001"):
        return str(what)
    who = doc.get("WhoId")
    if who:
        got = w.store.get_record(str(who))
        if got and got[0] == "Contact":
            return got[1].get("AccountId")
    return None


def _event(doc: dict[str, Any]) -> None:
    if doc.get("IsAllDayEvent"):
        if not doc.get("ActivityDate") and not doc.get("ActivityDateTime") and not doc.get("StartDateTime"):
            raise _missing("ActivityDate")
        doc["DurationInMinutes"] = doc.get("DurationInMinutes") or 1440
        return
    start = doc.get("StartDateTime") or doc.get("ActivityDateTime")
    if not start:
        raise _missing("ActivityDateTime")
    doc["StartDateTime"] = doc["ActivityDateTime"] = start
    start_dt = parse_datetime(start)
    doc["ActivityDate"] = start_dt.date().isoformat()
    end, duration = doc.get("EndDateTime"), doc.get("DurationInMinutes")
    if end is None and duration is None:
        raise _missing("DurationInMinutes")
    if end is None:
        doc["EndDateTime"] = sf_datetime(start_dt + timedelta(minutes=int(str(duration))))
    else:
        delta = parse_datetime(end) - start_dt
        if delta.total_seconds() < 0:
            raise RecordError(
                SfError(
                    "FIELD_INTEGRITY_EXCEPTION", "End Date Time: End time can't be before start time", ("EndDateTime",)
                )
            )
        doc["DurationInMinutes"] = int(delta.total_seconds() // 60)


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _contract(w: Writer, doc: dict[str, Any], before: dict[str, Any] | None) -> None:
    status = doc.get("Status")
    if before is None and status == "Activated" and not w.cfg.contract_insert_activated:
        raise RecordError(
            SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                "Status: You can't create a contract in the Activated status. Insert it as Draft, then activate it.",
                ("Status",),
            )
        )
    if status == "Activated" and (before is None or before.get("Status") != "Activated"):
        doc["ActivatedDate"] = w.now
    start, term = doc.get("StartDate"), doc.get("ContractTerm")
    if start and term:
        doc["EndDate"] = (_add_months(date.fromisoformat(start), int(term)) - timedelta(days=1)).isoformat()
    else:
        doc["EndDate"] = None


def _entitlement(doc: dict[str, Any]) -> None:
    today = date.today().isoformat()
    start, end = doc.get("StartDate"), doc.get("EndDate")
    if start and start > today:
        doc["Status"] = "Inactive"
    elif end and end < today:
        doc["Status"] = "Expired"
    else:
        doc["Status"] = "Active"


def _content_version(doc: dict[str, Any]) -> None:
    path = str(doc.get("PathOnClient") or "")
    ext = path.rsplit(".", 1)[1].lower() if "." in path else ""
    doc["ContentSize"] = len(base64.b64decode(str(doc.get("VersionData") or "")))
    doc["FileExtension"] = ext or None
    doc["FileType"] = FILE_TYPES.get(ext, "UNKNOWN")
    doc["IsLatest"] = True


def before_save_insert(w: Writer, objdef: ObjectDef, record_id: str, doc: dict[str, Any]) -> None:
    """Rules that need the new record's id or allocate numbers (only for records that will be saved)."""
    if objdef.name == "Case":
        doc["CaseNumber"] = w.next_auto_number(objdef, "{00000000}", start=1001)
    elif objdef.name == "Contract":
        doc["ContractNumber"] = w.next_auto_number(objdef, "{00000000}", start=100)
    elif objdef.auto_number_format:
        doc["Name"] = w.next_auto_number(objdef, objdef.auto_number_format)
    elif objdef.name == "ContentVersion":
        _new_version(w, record_id, doc)


def _new_version(w: Writer, record_id: str, doc: dict[str, Any]) -> None:
    docs = w.schema.objects["ContentDocument"]
    versions = w.schema.objects["ContentVersion"]
    summary = {
        "Title": doc.get("Title"),
        "Description": doc.get("Description"),
        "LatestPublishedVersionId": record_id,
        "ContentSize": doc["ContentSize"],
        "FileExtension": doc["FileExtension"],
        "FileType": doc["FileType"],
    }
    existing = doc.get("ContentDocumentId")
    if existing:
        older = [v for v in w.store.records_of("ContentVersion") if v.get("ContentDocumentId") == existing]
        for version in older:
            if version.get("IsLatest"):
                w.raw_update(versions, version["Id"], {"IsLatest": False})
        doc["VersionNumber"] = str(len(older) + 1)
        w.raw_update(docs, existing, summary)
        return
    doc["VersionNumber"] = "1"
    doc["ContentDocumentId"] = w.raw_insert(docs, {**summary, "OwnerId": doc.get("OwnerId"), "IsDeleted": False})


def after_insert(w: Writer, objdef: ObjectDef, record_id: str, doc: dict[str, Any]) -> None:
    """A first ContentVersion links its new document to the owner and to FirstPublishLocationId."""
    if objdef.name != "ContentVersion" or doc.get("VersionNumber") != "1":
        return
    links = w.schema.objects["ContentDocumentLink"]
    owner = doc.get("OwnerId")
    entities = [owner]
    location = doc.get("FirstPublishLocationId")
    if location and location != owner:
        entities.append(location)
    for entity in entities:
        w.raw_insert(
            links,
            {
                "LinkedEntityId": entity,
                "ContentDocumentId": doc["ContentDocumentId"],
                "ShareType": "I",
                "Visibility": "AllUsers",
            },
        )


def after_delete(w: Writer, objdef: ObjectDef, record_id: str, hard: bool) -> None:
    """Deleting a ContentDocument removes its versions and links too."""
    if objdef.name != "ContentDocument":
        return
    for child in ("ContentVersion", "ContentDocumentLink"):
        for rec in w.store.records_of(child):
            if rec.get("ContentDocumentId") == record_id:
                w.remove(child, rec["Id"], rec, hard)
