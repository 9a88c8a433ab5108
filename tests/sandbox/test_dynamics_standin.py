"""The Dataverse stand-in driven with plain httpx OData calls over real HTTPS.

One stand-in process (module fixture, Field Service on) serves a fresh environment; the
schema a migration would deploy (``flit_sercomid`` + an alternate key on account) is created
once through the metadata API. Tests that change knobs restore them through ``dynamics_knobs``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from sandbox.dynamics import snapshot
from sandbox.serve import RunningStandin

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REPRESENTATION = {"Prefer": "return=representation"}


def _create(client: httpx.Client, entity_set: str, body: dict[str, Any]) -> str:
    """POST a record; returns its id from ``OData-EntityId``."""
    response = client.post(entity_set, json=body)
    assert response.status_code == 204, response.text
    match = re.search(rf"\(({GUID})\)$", response.headers["OData-EntityId"])
    assert match, response.headers["OData-EntityId"]
    return match.group(1)


def _error(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


def _users(client: httpx.Client) -> dict[str, dict[str, Any]]:
    rows = client.get("systemusers", params={"$select": "fullname,isdisabled,applicationid"}).json()["value"]
    return {r["fullname"]: r for r in rows}


def _attribute(meta: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "MaxLength": 100,
            "RequiredLevel": {"Value": "None"}, "DisplayName": {"LocalizedLabels": [
                {"Label": meta["SchemaName"], "LanguageCode": 1033}]}, **meta}


@pytest.fixture(scope="module")
def dynamics_schema(dataverse: httpx.Client) -> None:
    """The migration's source-id column and alternate key on account."""
    response = dataverse.post("EntityDefinitions(LogicalName='account')/Attributes",
                              json=_attribute({"SchemaName": "flit_SercomId"}))
    assert response.status_code == 204, response.text
    response = dataverse.post("EntityDefinitions(LogicalName='account')/Keys", json={
        "SchemaName": "flit_sercomid_key", "DisplayName": {"LocalizedLabels": [{"Label": "Sercom Id",
                                                                                 "LanguageCode": 1033}]},
        "KeyAttributes": ["flit_sercomid"]})
    assert response.status_code == 204, response.text


# -- auth -----------------------------------------------------------------------------------------------------


def test_token_endpoint_bearer_check_and_whoami(dynamics_standin: RunningStandin, dataverse: httpx.Client) -> None:
    # GIVEN the tenant's token endpoint
    info = dynamics_standin.info
    assert info["kind"] == "dynamics" and info["api_version"] == "v9.2"
    url = f"{dynamics_standin.url}/{info['tenant_id']}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", **info["credentials"], "scope": f"{dynamics_standin.url}/.default"}
    # WHEN the secret is wrong THEN Entra ID's 401 invalid_client comes back
    bad = httpx.post(url, data={**form, "client_secret": "nope"}, verify=dynamics_standin.ca_path)
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client" and "AADSTS7000215" in bad.json()["error_description"]
    # WHEN the credentials are right THEN a bearer token is issued
    good = httpx.post(url, data=form, verify=dynamics_standin.ca_path).json()
    assert good["token_type"] == "Bearer" and good["expires_in"] == 3599 and good["access_token"]  # noqa: S105
    # WHEN no bearer is sent THEN 401 with WWW-Authenticate
    anonymous = httpx.get(f"{dynamics_standin.url}/api/data/v9.2/WhoAmI", verify=dynamics_standin.ca_path)
    assert anonymous.status_code == 401 and "authorization_uri" in anonymous.headers["WWW-Authenticate"]
    # WHEN WhoAmI is called THEN the caller is the enabled application user
    who = dataverse.get("WhoAmI").json()
    assert set(who) >= {"UserId", "BusinessUnitId", "OrganizationId"} and who["OrganizationId"] == info["org_id"]
    me = dataverse.get(f"systemusers({who['UserId']})", params={"$select": "applicationid,isdisabled"}).json()
    assert me["applicationid"] == info["credentials"]["client_id"] and me["isdisabled"] is False
    assert "x-ms-ratelimit-burst-remaining-xrm-requests" in dataverse.get("WhoAmI").headers


# -- create / read / bind ---------------------------------------------------------------------------------------


def test_create_returns_204_entity_id_or_201_representation(dataverse: httpx.Client) -> None:
    account_id = _create(dataverse, "accounts", {"name": "Contoso", "createdon": "2001-01-01T00:00:00Z"})
    created = dataverse.post("accounts", json={"name": "Fabrikam", "industrycode": 7}, headers=REPRESENTATION)
    assert created.status_code == 201
    body = created.json()
    assert body["@odata.context"].endswith("$metadata#accounts/$entity")
    assert re.fullmatch(r'W/"\d+"', body["@odata.etag"]) and re.fullmatch(GUID, body["accountid"])
    assert body["name"] == "Fabrikam" and body["industrycode"] == 7
    assert body["_transactioncurrencyid_value"] is not None and "OData-EntityId" not in created.headers
    # read-only createdon was silently ignored; the client may supply the primary key
    got = dataverse.get(f"accounts({account_id})", params={"$select": "name,createdon"}).json()
    assert got["createdon"] != "2001-01-01T00:00:00Z"
    own_id = str(uuid.uuid4())
    assert _create(dataverse, "accounts", {"accountid": own_id, "name": "Own id"}) == own_id
    missing = dataverse.get(f"accounts({uuid.uuid4()})")
    assert missing.status_code == 404 and _error(missing)["code"] == "0x80040217"
    assert re.fullmatch(rf"account With Id = {GUID} Does Not Exist", _error(missing)["message"])


def test_binds_lookups_and_value_readback(dataverse: httpx.Client) -> None:
    ada = _users(dataverse)["Ada Field"]["systemuserid"]
    parent = _create(dataverse, "accounts", {"name": "Parent"})
    child = _create(dataverse, "accounts", {"name": "Child", "parentaccountid@odata.bind": f"/accounts({parent})",
                                            "ownerid@odata.bind": f"/systemusers({ada})"})
    contact = _create(dataverse, "contacts", {"firstname": "Jo", "lastname": "Doe",
                                              "parentcustomerid_account@odata.bind": f"/accounts({child})"})
    got = dataverse.get(f"contacts({contact})", params={"$select": "fullname,_parentcustomerid_value"},
                        headers={"Prefer": 'odata.include-annotations="*"'}).json()
    assert got["_parentcustomerid_value"] == child and got["fullname"] == "Jo Doe"
    assert got["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert got["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"] == "Child"
    acc = dataverse.get(f"accounts({child})", params={"$select": "_parentaccountid_value,_ownerid_value"}).json()
    assert acc["_parentaccountid_value"] == parent and acc["_ownerid_value"] == ada
    # a bind to a missing record, a wrong nav name and a GUID written to the lookup itself all fail
    ghost = str(uuid.uuid4())
    missing = dataverse.post("contacts", json={"lastname": "X",
                                               "parentcustomerid_account@odata.bind": f"/accounts({ghost})"})
    assert missing.status_code == 404 and _error(missing)["message"] == f"account With Id = {ghost} Does Not Exist"
    bad_nav = dataverse.post("contacts", json={"lastname": "X", "parentcustomerid@odata.bind": f"/accounts({child})"})
    assert bad_nav.status_code == 400 and "An undeclared property 'parentcustomerid' which only has property " \
        "annotations in the payload" in _error(bad_nav)["message"]
    direct = dataverse.post("accounts", json={"name": "X", "parentaccountid": parent})
    assert direct.status_code == 400 and "Use Navigation properties" in _error(direct)["message"]


def test_alternate_key_upsert_bind_and_uniqueness(dataverse: httpx.Client, dynamics_schema: None) -> None:
    # WHEN a PATCH names a missing record by alternate key THEN it is created, and a second PATCH updates it
    first = dataverse.patch("accounts(flit_sercomid='customers.1')", json={"name": "Sercom 1"})
    assert first.status_code == 204, first.text
    again = dataverse.patch("accounts(flit_sercomid='customers.1')", json={"name": "Sercom 1b"})
    assert again.status_code == 204
    assert again.headers["OData-EntityId"] == first.headers["OData-EntityId"]
    got = dataverse.get("accounts(flit_sercomid='customers.1')", params={"$select": "name,flit_sercomid"}).json()
    assert got["name"] == "Sercom 1b" and got["flit_sercomid"] == "customers.1"
    # a bind by alternate key resolves to the same record
    contact = _create(dataverse, "contacts", {
        "lastname": "Keyed", "parentcustomerid_account@odata.bind": "/accounts(flit_sercomid='customers.1')"})
    value = dataverse.get(f"contacts({contact})", params={"$select": "_parentcustomerid_value"}).json()
    assert value["_parentcustomerid_value"] == got["accountid"]
    # a duplicate key value is refused; an undefined key is a 400; If-Match: * never creates
    dup = dataverse.post("accounts", json={"name": "Dup", "flit_sercomid": "CUSTOMERS.1"})
    assert dup.status_code == 412 and _error(dup)["code"] == "0x80060892"
    undefined = dataverse.patch("accounts(accountnumber='A1')", json={"name": "x"})
    assert undefined.status_code == 400
    assert _error(undefined)["message"] == "The specified key attributes are not a defined key for the account entity"
    guarded = dataverse.patch("accounts(flit_sercomid='customers.404')", json={"name": "x"}, headers={"If-Match": "*"})
    assert guarded.status_code == 404
    create_only = dataverse.patch("accounts(flit_sercomid='customers.1')", json={"name": "x"},
                                  headers={"If-None-Match": "*"})
    assert create_only.status_code == 412
    upsert_id = str(uuid.uuid4())
    assert dataverse.patch(f"accounts({upsert_id})", json={"name": "By id"}).status_code == 204
    assert dataverse.delete(f"accounts({upsert_id})").status_code == 204
    assert dataverse.delete(f"accounts({upsert_id})").status_code == 404


def test_key_values_a_url_cannot_carry_are_refused(dataverse: httpx.Client, dynamics_schema: None,
                                                   dynamics_knobs: Any) -> None:
    # GIVEN an alternate key on flit_sercomid
    # WHEN a URL addresses a record by a key value holding ':' (or any of / # < > * % & \ ? +), plain or
    # percent-encoded, at the top level or inside a $batch THEN it is refused (Power Apps docs) ...
    for url in ("accounts(flit_sercomid='refused:1')", "accounts(flit_sercomid='refused%3A1')",
                "accounts(flit_sercomid='a%2Bb')"):
        refused = dataverse.patch(url, json={"name": "x"})
        assert refused.status_code == 400 and "cannot be used in a URL" in _error(refused)["message"], url
    batch = _batch(dataverse, [_part("PATCH", "accounts(flit_sercomid='refused%3A2')", {"name": "x"})],
                   prefer="odata.continue-on-error")
    assert _statuses(batch) == [400] and "cannot be used in a URL" in batch.text
    # ... while an encoded value without them is decoded like a top-level path and works
    batch = _batch(dataverse, [_part("PATCH", "accounts(flit_sercomid='encoded%2E1')", {"name": "Encoded"})],
                   prefer="odata.continue-on-error")
    assert _statuses(batch) == [204], batch.text
    got = dataverse.get("accounts(flit_sercomid='encoded.1')", params={"$select": "name"})
    assert got.status_code == 200 and got.json()["name"] == "Encoded"
    # AND with the knob emptied the same value is accepted
    dynamics_knobs(key_url_refused_chars="")
    assert dataverse.patch("accounts(flit_sercomid='allowed:1')", json={"name": "ok"}).status_code == 204


def test_validation_errors_are_faithful(dataverse: httpx.Client) -> None:
    unknown = dataverse.post("accounts", json={"name": "X", "fullname": "nope"})
    assert unknown.status_code == 400 and _error(unknown) == {
        "code": "0x0",
        "message": "Could not find a property named 'fullname' on type 'Microsoft.Dynamics.CRM.account'."}
    long = dataverse.post("accounts", json={"name": "x" * 161})
    assert long.status_code == 400 and _error(long) == {"code": "0x80044331", "message": (
        "A validation error occurred.  The length of the 'name' attribute of the 'account' entity exceeded the "
        "maximum allowed length of '160'.")}
    pick = dataverse.post("incidents", json={"title": "T", "prioritycode": 9})
    assert pick.status_code == 400 and _error(pick)["code"] == "0x8004431a"
    assert _error(pick)["message"].endswith("The value 9 of 'prioritycode' on record of type 'incident' is outside "
                                            "the valid range. Accepted Values: 1,2,3")
    early = dataverse.post("opportunities", json={"name": "O", "estimatedclosedate": "1700-01-01"})
    assert early.status_code == 400 and "outside the supported range" in _error(early)["message"]
    disabled = _users(dataverse)["Old Timer"]["systemuserid"]
    owner = dataverse.post("accounts", json={"name": "X", "ownerid@odata.bind": f"/systemusers({disabled})"})
    assert owner.status_code == 400 and _error(owner)["message"].startswith(
        f"The user with SystemUserId={disabled} in OrganizationContext=")
    assert "is disabled" in _error(owner)["message"]
    no_customer = dataverse.post("incidents", json={"title": "No customer"})
    assert no_customer.status_code == 400 and _error(no_customer)["message"] == (
        "You should specify a parent contact or account.")
    # ApplicationRequired (contact.lastname) is not enforced through the API
    assert dataverse.post("contacts", json={"firstname": "Only"}).status_code == 204


def test_close_actions_and_refused_state_patch(dataverse: httpx.Client) -> None:
    account = _create(dataverse, "accounts", {"name": "Case customer"})
    case = _create(dataverse, "incidents", {"title": "Broken",
                                            "customerid_account@odata.bind": f"/accounts({account})"})
    number = dataverse.get(f"incidents({case})", params={"$select": "ticketnumber,statecode,statuscode"}).json()
    assert number["ticketnumber"].startswith("CAS-") and (number["statecode"], number["statuscode"]) == (0, 1)
    refused = dataverse.patch(f"incidents({case})", json={"statecode": 1, "statuscode": 5})
    assert refused.status_code == 400 and _error(refused)["message"] == (
        "This message can not be used to set the state of incident to Closed. In order to set state of incident to "
        "Closed, use the CloseIncidentRequest message instead.")
    mismatched = dataverse.patch(f"incidents({case})", json={"statuscode": 6})
    assert mismatched.status_code == 400 and "is not a valid status code" in _error(mismatched)["message"]
    closed = dataverse.post("CloseIncident", json={
        "IncidentResolution": {"subject": "Fixed", "incidentid@odata.bind": f"/incidents({case})"}, "Status": 5})
    assert closed.status_code == 204, closed.text
    state = dataverse.get(f"incidents({case})", params={"$select": "statecode,statuscode"}).json()
    assert (state["statecode"], state["statuscode"]) == (1, 5)
    resolutions = dataverse.get("incidentresolutions", params={
        "$filter": f"_incidentid_value eq {case}", "$select": "subject"}).json()["value"]
    assert [r["subject"] for r in resolutions] == ["Fixed"]
    assert dataverse.patch(f"incidents({case})", json={"title": "Changed"}).status_code == 400
    won = _create(dataverse, "opportunities", {"name": "Deal", "estimatedvalue": 1000})
    assert dataverse.patch(f"opportunities({won})", json={"statecode": 1}).status_code == 400
    win = dataverse.post("WinOpportunity", json={"OpportunityClose": {
        "subject": "Won", "actualrevenue": 900, "opportunityid@odata.bind": f"/opportunities({won})"}, "Status": 3})
    assert win.status_code == 204, win.text
    got = dataverse.get(f"opportunities({won})", params={"$select": "statecode,statuscode,actualvalue"}).json()
    assert (got["statecode"], got["statuscode"], got["actualvalue"]) == (1, 3, 900)
    lost = _create(dataverse, "opportunities", {"name": "Gone"})
    wrong = dataverse.post("LoseOpportunity", json={"OpportunityClose": {
        "subject": "x", "opportunityid@odata.bind": f"/opportunities({lost})"}, "Status": 3})
    assert wrong.status_code == 400
    # AND deleting a closed record deletes its close activity with it (parental relationships: cascade)
    assert dataverse.delete(f"incidents({case})").status_code == 204
    assert dataverse.get("incidentresolutions", params={"$filter": f"_incidentid_value eq {case}"}).json()[
        "value"] == []
    assert dataverse.delete(f"opportunities({won})").status_code == 204
    assert dataverse.get("opportunitycloses", params={"$filter": f"_opportunityid_value eq {won}"}).json()[
        "value"] == []
    assert dataverse.post("LoseOpportunity", json={"OpportunityClose": {
        "subject": "x", "opportunityid@odata.bind": f"/opportunities({lost})"}, "Status": 5}).status_code == 204


def test_overriddencreatedon_semantics_and_privilege(dataverse: httpx.Client, dynamics_knobs: Any) -> None:
    historic = "2015-03-04T05:06:07Z"
    swapped = _create(dataverse, "accounts", {"name": "Historic", "overriddencreatedon": historic})
    got = dataverse.get(f"accounts({swapped})", params={"$select": "createdon,overriddencreatedon"}).json()
    assert got["createdon"] == historic and got["overriddencreatedon"] > historic
    dynamics_knobs(overriddencreatedon_swaps=False)
    plain = _create(dataverse, "accounts", {"name": "Historic 2", "overriddencreatedon": historic})
    got = dataverse.get(f"accounts({plain})", params={"$select": "createdon,overriddencreatedon"}).json()
    assert got["overriddencreatedon"] == historic and got["createdon"] > historic
    dynamics_knobs(override_created_on_privilege=False)
    denied = dataverse.post("accounts", json={"name": "No priv", "overriddencreatedon": historic})
    assert denied.status_code == 403 and _error(denied)["code"] == "0x80040220"
    assert "is missing prvOverrideCreatedOnCreatedBy privilege" in _error(denied)["message"]


# -- queries ----------------------------------------------------------------------------------------------------


def test_paging_filters_and_formatted_values(dataverse: httpx.Client) -> None:
    account = _create(dataverse, "accounts", {"name": "Paging parent"})
    for i in range(7):
        _create(dataverse, "tasks", {"subject": f"page-{i}", "prioritycode": i % 3,
                                     "regardingobjectid_account_task@odata.bind": f"/accounts({account})"})
    params = {"$select": "subject,prioritycode", "$filter": "startswith(subject,'page-')", "$count": "true",
              "$orderby": "subject desc"}
    first = dataverse.get("tasks", params=params, headers={"Prefer": "odata.maxpagesize=3"}).json()
    assert first["@odata.count"] == 7 and len(first["value"]) == 3 and first["value"][0]["subject"] == "page-6"
    seen = [r["subject"] for r in first["value"]]
    link = first.get("@odata.nextLink")
    while link:
        assert "$skiptoken=" in link
        page = dataverse.get(link, headers={"Prefer": "odata.maxpagesize=3"}).json()
        seen += [r["subject"] for r in page["value"]]
        link = page.get("@odata.nextLink")
    assert seen == [f"page-{i}" for i in range(6, -1, -1)]
    in_filter = "Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=['page-1','page-5','nope'])"
    rows = dataverse.get("tasks", params={"$filter": in_filter, "$select": "subject"}).json()["value"]
    assert sorted(r["subject"] for r in rows) == ["page-1", "page-5"]
    rows = dataverse.get("tasks", params={
        "$filter": f"_regardingobjectid_value eq {account} and (prioritycode eq 2 or subject eq 'PAGE-0')",
        "$select": "subject,prioritycode"}, headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.'
                                                               'FormattedValue"'}).json()["value"]
    assert sorted(r["subject"] for r in rows) == ["page-0", "page-2", "page-5"]
    assert {r["prioritycode@OData.Community.Display.V1.FormattedValue"] for r in rows} == {"Low", "High"}
    quoted = dataverse.get("accounts", params={"$filter": "name eq 'O''Brien'"})
    assert quoted.status_code == 200 and quoted.json()["value"] == []
    unsupported = dataverse.get("tasks", params={"$filter": "subject has 'x'"})
    assert unsupported.status_code == 400 and "not supported" in _error(unsupported)["message"]
    incompatible = dataverse.get("accounts", params={"$filter": "name eq 5"})
    assert incompatible.status_code == 400 and "incompatible types" in _error(incompatible)["message"]


# -- $batch -----------------------------------------------------------------------------------------------------


def _part(method: str, url: str, body: dict[str, Any] | None = None, content_id: str | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    request = f"{method} {url} HTTP/1.1\r\n"
    if body is not None:
        return f"{head}\r\n{request}Content-Type: application/json; type=entry\r\n\r\n{json.dumps(body)}\r\n"
    return f"{head}\r\n{request}\r\n"


def _batch(client: httpx.Client, items: Sequence[str | list[str]], prefer: str | None = None) -> httpx.Response:
    """POST a $batch; a list item is a change set."""
    boundary = f"batch_{uuid.uuid4()}"
    body = ""
    for item in items:
        if isinstance(item, list):
            cs = f"changeset_{uuid.uuid4()}"
            inner = "".join(f"--{cs}\r\n{p}" for p in item) + f"--{cs}--\r\n"
            body += f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n{inner}"
        else:
            body += f"--{boundary}\r\n{item}"
    body += f"--{boundary}--\r\n"
    headers = {"Content-Type": f'multipart/mixed; boundary="{boundary}"'}
    if prefer:
        headers["Prefer"] = prefer
    return client.post("$batch", content=body.encode(), headers=headers)


def _statuses(response: httpx.Response) -> list[int]:
    return [int(s) for s in re.findall(r"HTTP/1\.1 (\d{3}) ", response.text)]


def _count(client: httpx.Client, entity_set: str, name_col: str, value: str) -> int:
    rows = client.get(entity_set, params={"$filter": f"{name_col} eq '{value}'", "$select": name_col}).json()
    return len(rows["value"])


def test_batch_change_set_with_content_id_references(dataverse: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    response = _batch(dataverse, [
        [_part("POST", "/api/data/v9.2/accounts", {"name": f"B-{tag}"}, "1"),
         _part("POST", "/api/data/v9.2/contacts", {"lastname": f"C-{tag}", "parentcustomerid_account@odata.bind": "$1"},
               "2"),
         _part("PATCH", "$1", {"telephone1": "555"}, "3")],
        _part("GET", f"/api/data/v9.2/contacts?$select=_parentcustomerid_value&$filter=lastname eq 'C-{tag}'"),
    ])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("multipart/mixed; boundary=batchresponse_")
    assert "--changesetresponse_" in response.text and _statuses(response) == [204, 204, 204, 200]
    account_id = re.search(rf"accounts\(({GUID})\)", response.text).group(1)  # type: ignore[union-attr]
    payload = json.loads(response.text[response.text.index('{"@odata.context"'):].split("\r\n--batchresponse")[0])
    assert payload["value"][0]["_parentcustomerid_value"] == account_id
    phone = dataverse.get(f"accounts({account_id})", params={"$select": "telephone1"}).json()["telephone1"]
    assert phone == "555"


def test_batch_stops_on_first_error_unless_continue_on_error(dataverse: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    parts = [_part("POST", "/api/data/v9.2/tasks", {"subject": "x" * 201}),
             _part("POST", "/api/data/v9.2/tasks", {"subject": f"after-{tag}"})]
    stopped = _batch(dataverse, parts)
    assert stopped.status_code == 400 and _statuses(stopped) == [400]
    assert "exceeded the maximum allowed length of '200'" in stopped.text
    assert _count(dataverse, "tasks", "subject", f"after-{tag}") == 0
    going = _batch(dataverse, parts, prefer="odata.continue-on-error")
    assert going.status_code == 200 and _statuses(going) == [400, 204]
    assert _count(dataverse, "tasks", "subject", f"after-{tag}") == 1


def test_batch_change_set_is_atomic_and_limits_hold(dataverse: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    failed = _batch(dataverse, [[_part("POST", "accounts", {"name": f"Atomic-{tag}"}, "1"),
                                 _part("POST", "accounts", {"name": "x", "nosuch": 1}, "2")]])
    assert failed.status_code == 400 and "Could not find a property named 'nosuch'" in failed.text
    assert _count(dataverse, "accounts", "name", f"Atomic-{tag}") == 0
    undeclared = _batch(dataverse, [[_part("POST", "contacts", {"lastname": "x",
                                                                "parentcustomerid_account@odata.bind": "$9"}, "1")]])
    assert undeclared.status_code == 400
    assert "Content-ID Reference: '$9' does not exist in the batch context." in undeclared.text
    get_in_changeset = _batch(dataverse, [[_part("GET", "accounts")]])
    assert get_in_changeset.status_code == 400
    too_many = _batch(dataverse, [_part("GET", "WhoAmI")] * 1001)
    assert too_many.status_code == 400 and "1001" in _error(too_many)["message"]


# -- metadata ---------------------------------------------------------------------------------------------------


def test_metadata_reads(dataverse: httpx.Client, dynamics_schema: None) -> None:
    account = dataverse.get("EntityDefinitions(LogicalName='account')", params={
        "$select": "LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,IsCustomEntity",
        "$expand": "Attributes($select=LogicalName,AttributeType,MaxLength,RequiredLevel,IsValidForCreate,"
                   "IsValidForUpdate,IsCustomAttribute,Targets,SchemaName)"}).json()
    assert (account["EntitySetName"], account["PrimaryIdAttribute"], account["PrimaryNameAttribute"]) == (
        "accounts", "accountid", "name")
    attrs = {a["LogicalName"]: a for a in account["Attributes"]}
    assert attrs["name"]["MaxLength"] == 160 and attrs["name"]["RequiredLevel"]["Value"] == "ApplicationRequired"
    assert attrs["flit_sercomid"]["IsCustomAttribute"] is True
    assert attrs["flit_sercomid"]["SchemaName"] == "flit_SercomId"
    assert attrs["parentaccountid"]["Targets"] == ["account"] and attrs["createdon"]["IsValidForCreate"] is False
    assert attrs["overriddencreatedon"]["IsValidForCreate"] is True
    plain = dataverse.get("EntityDefinitions(LogicalName='contact')/Attributes", params={"$select": "LogicalName"})
    assert {"lastname", "parentcustomerid"} <= {a["LogicalName"] for a in plain.json()["value"]}
    picklists = dataverse.get(
        "EntityDefinitions(LogicalName='incident')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        params={"$select": "LogicalName", "$expand": "OptionSet($select=Options)"}).json()["value"]
    priority = next(p for p in picklists if p["LogicalName"] == "prioritycode")
    assert [(o["Value"], o["Label"]["UserLocalizedLabel"]["Label"]) for o in priority["OptionSet"]["Options"]] == [
        (1, "High"), (2, "Normal"), (3, "Low")]
    status = dataverse.get(
        "EntityDefinitions(LogicalName='incident')/Attributes(LogicalName='statuscode')/"
        "Microsoft.Dynamics.CRM.StatusAttributeMetadata", params={"$expand": "OptionSet"}).json()
    assert {(o["Value"], o["State"]) for o in status["OptionSet"]["Options"]} >= {(5, 1), (6, 2), (1, 0)}
    keys = dataverse.get("EntityDefinitions(LogicalName='account')/Keys").json()["value"]
    assert keys[0]["KeyAttributes"] == ["flit_sercomid"] and keys[0]["EntityKeyIndexStatus"] == "Active"
    task = dataverse.get("EntityDefinitions(LogicalName='task')", params={"$select": "PrimaryIdAttribute"}).json()
    assert task["PrimaryIdAttribute"] == "activityid"
    unknown = dataverse.get("EntityDefinitions(LogicalName='nosuch')")
    assert unknown.status_code == 404


def test_custom_table_column_and_key_are_usable_at_once(dataverse: httpx.Client) -> None:
    created = dataverse.post("EntityDefinitions", json={
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata", "SchemaName": "flit_Asset",
        "DisplayName": {"LocalizedLabels": [{"Label": "Asset", "LanguageCode": 1033}]},
        "DisplayCollectionName": {"LocalizedLabels": [{"Label": "Assets", "LanguageCode": 1033}]},
        "OwnershipType": "UserOwned", "IsActivity": False, "HasNotes": True, "HasActivities": True,
        "Attributes": [_attribute({"SchemaName": "flit_Name", "IsPrimaryName": True})]})
    assert created.status_code == 204 and "EntityDefinitions(" in created.headers["OData-EntityId"]
    meta = dataverse.get("EntityDefinitions(LogicalName='flit_asset')",
                         params={"$select": "EntitySetName,PrimaryIdAttribute,IsCustomEntity"}).json()
    assert (meta["EntitySetName"], meta["PrimaryIdAttribute"], meta["IsCustomEntity"]) == (
        "flit_assets", "flit_assetid", True)
    picklist = dataverse.post("EntityDefinitions(LogicalName='flit_asset')/Attributes", json={
        "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", "SchemaName": "flit_Condition",
        "DisplayName": {"LocalizedLabels": [{"Label": "Condition", "LanguageCode": 1033}]},
        "OptionSet": {"IsGlobal": False, "OptionSetType": "Picklist", "Options": [
            {"Label": {"LocalizedLabels": [{"Label": "Good", "LanguageCode": 1033}]}},
            {"Label": {"LocalizedLabels": [{"Label": "Poor", "LanguageCode": 1033}]}}]}})
    assert picklist.status_code == 204, picklist.text
    dataverse.post("EntityDefinitions(LogicalName='flit_asset')/Attributes",
                   json=_attribute({"SchemaName": "flit_SercomId"})).raise_for_status()
    dataverse.post("EntityDefinitions(LogicalName='flit_asset')/Keys", json={
        "SchemaName": "flit_asset_sercomid", "KeyAttributes": ["flit_sercomid"]}).raise_for_status()
    account = _create(dataverse, "accounts", {"name": "Asset owner"})
    upsert = dataverse.patch("flit_assets(flit_sercomid='assets.1')", json={
        "flit_name": "Pump", "flit_condition": 100_000_000}, headers=REPRESENTATION)
    assert upsert.status_code == 201 and upsert.json()["flit_condition"] == 100_000_000
    asset_id = upsert.json()["flit_assetid"]
    note = _create(dataverse, "annotations", {"subject": "n",
                                              "objectid_flit_asset@odata.bind": f"/flit_assets({asset_id})"})
    task = _create(dataverse, "tasks", {"subject": "t",
                                        "regardingobjectid_flit_asset_task@odata.bind": f"/flit_assets({asset_id})"})
    assert note and task and account
    custom = dataverse.get("EntityDefinitions", params={"$select": "LogicalName,EntitySetName,IsCustomEntity",
                                                        "$filter": "IsCustomEntity eq true"}).json()["value"]
    assert [t["LogicalName"] for t in custom] == ["flit_asset"]
    wrong_prefix = dataverse.post("EntityDefinitions(LogicalName='account')/Attributes",
                                  json=_attribute({"SchemaName": "new_Thing"}))
    assert wrong_prefix.status_code == 400 and "prefix" in _error(wrong_prefix)["message"]
    dup = dataverse.post("EntityDefinitions(LogicalName='flit_asset')/Attributes",
                         json=_attribute({"SchemaName": "flit_SercomId"}))
    assert dup.status_code == 400 and "already exists" in _error(dup)["message"]
    bad_option = dataverse.post("flit_assets", json={"flit_name": "x", "flit_condition": 3})
    assert bad_option.status_code == 400 and "100000000,100000001" in _error(bad_option)["message"]


def test_professional_sku_caps_custom_tables(dataverse: httpx.Client, dynamics_knobs: Any) -> None:
    existing = len(dataverse.get("EntityDefinitions", params={"$filter": "IsCustomEntity eq true"}).json()["value"])
    dynamics_knobs(sku="professional", custom_table_limit=existing + 1)
    body = {"SchemaName": "flit_Extra", "OwnershipType": "UserOwned",
            "Attributes": [_attribute({"SchemaName": "flit_Name", "IsPrimaryName": True})]}
    assert dataverse.post("EntityDefinitions", json=body).status_code == 204
    refused = dataverse.post("EntityDefinitions", json={**body, "SchemaName": "flit_Extra2"})
    assert refused.status_code == 400 and "custom tables" in _error(refused)["message"]


# -- service protection and faults ------------------------------------------------------------------------------


def test_request_count_throttling(dataverse: httpx.Client, dynamics_admin: httpx.Client, dynamics_knobs: Any) -> None:
    dynamics_admin.post("/__standin/usage/reset").raise_for_status()
    dynamics_knobs(requests_per_window=5, window_s=30)
    statuses = [dataverse.get("WhoAmI") for _ in range(6)]
    assert [r.status_code for r in statuses[:5]] == [200] * 5
    throttled = statuses[5]
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert _error(throttled) == {
        "code": "0x80072322", "message": "Number of requests exceeded the limit of 5 over time window of 30 seconds."}
    assert statuses[4].headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "0"
    assert dynamics_admin.get("/__standin/stats").json()["throttled"] >= 1


def test_concurrency_limit(dataverse: httpx.Client, dynamics_knobs: Any) -> None:
    dynamics_knobs(max_concurrency=2, latency_ms=400)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def call() -> None:
        response = dataverse.get("WhoAmI")
        with lock:
            results.append(response)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) >= 2 and 429 in codes
    refused = next(r for r in results if r.status_code == 429)
    assert _error(refused)["code"] == "0x80072326" and "Retry-After" in refused.headers


def test_injected_faults(dataverse: httpx.Client, dynamics_admin: httpx.Client, dynamics_knobs: Any) -> None:
    dynamics_knobs(fault_5xx_rate=1.0)
    assert dataverse.get("WhoAmI").status_code == 503
    dynamics_knobs(fault_5xx_rate=0.0, fault_throttle_rate=1.0, fault_retry_after_s=7)
    throttled = dataverse.get("WhoAmI")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    dynamics_knobs(fault_throttle_rate=0.0, fault_timeout_rate=1.0, fault_timeout_s=0.2)
    assert _batch(dataverse, [_part("GET", "WhoAmI")]).status_code == 504
    faults = dynamics_admin.get("/__standin/stats").json()["faults"]
    assert faults == {"5xx": 1, "throttle": 1, "timeout": 1}


# -- notes and activities ---------------------------------------------------------------------------------------


def test_annotations_and_activity_regarding(dataverse: httpx.Client, dynamics_knobs: Any) -> None:
    account = _create(dataverse, "accounts", {"name": "Notes"})
    content = b"hello, attachment"
    note = _create(dataverse, "annotations", {
        "subject": "Spec", "notetext": "see file", "filename": "spec.txt", "mimetype": "text/plain",
        "documentbody": base64.b64encode(content).decode(), "objectid_account@odata.bind": f"/accounts({account})"})
    got = dataverse.get(f"annotations({note})", params={
        "$select": "filesize,isdocument,_objectid_value,objecttypecode,documentbody"}).json()
    assert (got["filesize"], got["isdocument"], got["_objectid_value"], got["objecttypecode"]) == (
        len(content), True, account, "account")
    assert base64.b64decode(got["documentbody"]) == content
    dynamics_knobs(annotation_max_bytes=4)
    big = dataverse.post("annotations", json={"subject": "big", "documentbody": base64.b64encode(content).decode()})
    assert big.status_code == 400 and "too large" in _error(big)["message"]
    call = _create(dataverse, "phonecalls", {"subject": "Called", "phonenumber": "555", "directioncode": True,
                                             "statecode": 1, "statuscode": 2,
                                             "regardingobjectid_account_phonecall@odata.bind": f"/accounts({account})"})
    got = dataverse.get(f"phonecalls({call})", params={"$select": "statecode,statuscode,_regardingobjectid_value"})
    assert got.json()["_regardingobjectid_value"] == account and got.json()["statecode"] == 1
    wrong = dataverse.post("tasks", json={"subject": "x",
                                          "regardingobjectid_account_phonecall@odata.bind": f"/accounts({account})"})
    assert wrong.status_code == 400 and "undeclared property" in _error(wrong)["message"]


def test_records_admin_and_snapshot(dynamics_standin: RunningStandin, dataverse: httpx.Client,
                                    dynamics_admin: httpx.Client) -> None:
    account = _create(dataverse, "accounts", {"name": "Snap"})
    rows = dynamics_admin.get("/__standin/records/account").json()["value"]
    assert any(r["accountid"] == account for r in rows)
    assert httpx.get(f"{dynamics_standin.url}/__standin/stats", verify=dynamics_standin.ca_path).status_code == 401
    stats = dynamics_admin.get("/__standin/stats").json()
    assert stats["total_requests"] > 0 and stats["by_request"]["POST accounts"] > 0
    snap = snapshot(dynamics_standin.info["state_path"])
    assert snap["records"]["account"][account]["name"] == "Snap"
    assert "flit_asset" in snap["schema"]["custom_tables"] or snap["schema"]["custom_columns"]


# -- customer addresses, queue items, activity columns, client ids, custom lookups ------------------------------


def _addresses(client: httpx.Client, parent: str) -> list[dict[str, Any]]:
    rows = client.get("customeraddresses", params={
        "$filter": f"_parentid_value eq {parent}", "$orderby": "addressnumber",
        "$select": "addressnumber,line1,city,objecttypecode,_parentid_value"}).json()["value"]
    return list(rows)


def test_customeraddress_embedded_rows_numbers_and_conflicts(dataverse: httpx.Client, dynamics_knobs: Any) -> None:
    # GIVEN an account: the platform keeps its address 1 and 2 as customeraddress rows (a contact gets 1-3)
    account = _create(dataverse, "accounts", {"name": "Addressed", "address1_line1": "1 Main St",
                                              "address1_city": "Springfield"})
    rows = _addresses(dataverse, account)
    assert [(r["addressnumber"], r["line1"], r["objecttypecode"]) for r in rows] == [
        (1, "1 Main St", "account"), (2, None, "account")]
    contact = _create(dataverse, "contacts", {"lastname": "Three"})
    assert [r["addressnumber"] for r in _addresses(dataverse, contact)] == [1, 2, 3]
    # the embedded address follows the account
    assert dataverse.patch(f"accounts({account})", json={"address1_city": "Shelbyville"}).status_code == 204
    assert _addresses(dataverse, account)[0]["city"] == "Shelbyville"
    # WHEN a further address is created without a number THEN it gets the next one (3), bound by parentid_account
    more = dataverse.post("customeraddresses", headers=REPRESENTATION, json={
        "name": "Warehouse", "line1": "9 Dock Rd", "addresstypecode": 2, "objecttypecode": "account",
        "parentid_account@odata.bind": f"/accounts({account})"})
    assert more.status_code == 201, more.text
    body = more.json()
    assert (body["addressnumber"], body["_parentid_value"], body["objecttypecode"]) == (3, account, "account")
    assert body["composite"] == "9 Dock Rd"
    # WHEN a number the account already uses is given THEN the platform's unique index refuses it
    clash = dataverse.post("customeraddresses", json={"name": "Clash", "addressnumber": 1,
                                                      "parentid_account@odata.bind": f"/accounts({account})"})
    assert clash.status_code == 412 and _error(clash)["code"] == "0x80040237"
    assert _error(clash)["message"] == "A record with matching key values already exists."
    assert "Cannot insert duplicate key" in _error(clash)[
        "@Microsoft.PowerApps.CDS.ErrorDetails.SqlExceptionMessage"]
    dynamics_knobs(address_number_conflict="renumber")
    renumbered = dataverse.post("customeraddresses", headers=REPRESENTATION, json={
        "name": "Renumbered", "addressnumber": 2, "parentid_account@odata.bind": f"/accounts({account})"})
    assert renumbered.status_code == 201 and renumbered.json()["addressnumber"] == 4
    # parentid is SystemRequired and polymorphic: only parentid_account / parentid_contact bind
    orphan = dataverse.post("customeraddresses", json={"name": "Orphan"})
    assert orphan.status_code == 400 and "parentid" in _error(orphan)["message"]
    for nav in ("parentid", "parentid_incident"):
        wrong = dataverse.post("customeraddresses", json={"name": "x", f"{nav}@odata.bind": f"/accounts({account})"})
        assert wrong.status_code == 400 and "undeclared property" in _error(wrong)["message"]
    on_contact = _create(dataverse, "customeraddresses", {"name": "Home", "parentid_contact@odata.bind":
                                                          f"/contacts({contact})"})
    got = dataverse.get(f"customeraddresses({on_contact})", params={"$select": "addressnumber,objecttypecode"})
    assert (got.json()["addressnumber"], got.json()["objecttypecode"]) == (4, "contact")
    # deleting the account cascades to its addresses
    assert dataverse.delete(f"accounts({account})").status_code == 204
    assert _addresses(dataverse, account) == []
    # with empty-address creation disabled, rows appear only for embedded addresses that hold data
    dynamics_knobs(embedded_address_records=False)
    sparse = _create(dataverse, "accounts", {"name": "Sparse", "address2_line1": "2 Side St"})
    assert [(r["addressnumber"], r["line1"]) for r in _addresses(dataverse, sparse)] == [(2, "2 Side St")]


def test_customeraddress_metadata_custom_columns_but_no_custom_lookups(dataverse: httpx.Client) -> None:
    meta = dataverse.get("EntityDefinitions(LogicalName='customeraddress')", params={
        "$select": "EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,OwnershipType",
        "$expand": "Attributes($select=LogicalName,AttributeType,RequiredLevel,Targets,MaxLength)"}).json()
    assert (meta["EntitySetName"], meta["PrimaryIdAttribute"], meta["PrimaryNameAttribute"], meta["OwnershipType"]) == (
        "customeraddresses", "customeraddressid", "name", "None")
    attrs = {a["LogicalName"]: a for a in meta["Attributes"]}
    assert attrs["parentid"]["AttributeType"] == "Lookup" and attrs["parentid"]["Targets"] == ["account", "contact"]
    assert attrs["parentid"]["RequiredLevel"]["Value"] == "SystemRequired"
    assert attrs["objecttypecode"]["AttributeType"] == "EntityName"
    assert (attrs["line1"]["MaxLength"], attrs["name"]["MaxLength"], attrs["city"]["MaxLength"]) == (250, 200, 80)
    # customizable: plain columns and keys can be added (the migration's source-id column) ...
    assert dataverse.post("EntityDefinitions(LogicalName='customeraddress')/Attributes",
                          json=_attribute({"SchemaName": "flit_SercomId"})).status_code == 204
    keyed = dataverse.post("EntityDefinitions(LogicalName='customeraddress')/Keys", json={
        "SchemaName": "flit_customeraddress_sercomid", "KeyAttributes": ["flit_sercomid"]})
    assert keyed.status_code == 204, keyed.text
    # ... but no custom lookup (relationship) can point from an address
    refused = dataverse.post("RelationshipDefinitions", json=_relationship(
        "flit_account_customeraddress_site", "account", "customeraddress", "flit_siteaccountid"))
    assert refused.status_code == 400 and "CanBeReferencing" in _error(refused)["message"]


def test_queueitem_create_with_client_id_addtoqueue_and_refusals(dataverse: httpx.Client) -> None:
    account = _create(dataverse, "accounts", {"name": "Queue customer"})
    case = _create(dataverse, "incidents", {"title": "Route me",
                                            "customerid_account@odata.bind": f"/accounts({account})"})
    queue = dataverse.get("queues", params={"$select": "name", "$top": "1"}).json()["value"][0]["queueid"]
    # WHEN a queue item is created with a deterministic id THEN that id is kept; title/enteredon are the platform's
    item_id = str(uuid.uuid4())
    body = {"queueitemid": item_id, "title": "ignored", "queueid@odata.bind": f"/queues({queue})",
            "objectid_incident@odata.bind": f"/incidents({case})"}
    assert _create(dataverse, "queueitems", body) == item_id
    got = dataverse.get(f"queueitems({item_id})", params={
        "$select": "title,enteredon,objecttypecode,_objectid_value,_queueid_value,statecode"},
        headers={"Prefer": 'odata.include-annotations="*"'}).json()
    assert (got["title"], got["objecttypecode"], got["_objectid_value"], got["_queueid_value"], got["statecode"]) == (
        "Route me", 112, case, queue, 0)
    assert got["enteredon"] and got["_objectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == (
        "objectid_incident")
    # a second create with the same id is a duplicate key
    again = dataverse.post("queueitems", json=body)
    assert again.status_code == 412 and _error(again)["code"] == "0x80040237"
    assert "Violation of PRIMARY KEY constraint 'PK_QueueItemBase'" in _error(again)[
        "@Microsoft.PowerApps.CDS.ErrorDetails.SqlExceptionMessage"]
    # opportunities are not queue-enabled: there is no objectid_opportunity navigation property
    deal = _create(dataverse, "opportunities", {"name": "Not queueable"})
    refused = dataverse.post("queueitems", json={"queueid@odata.bind": f"/queues({queue})",
                                                 "objectid_opportunity@odata.bind": f"/opportunities({deal})"})
    assert refused.status_code == 400 and "undeclared property 'objectid_opportunity'" in _error(refused)["message"]
    no_queue = dataverse.post("queueitems", json={"objectid_incident@odata.bind": f"/incidents({case})"})
    assert no_queue.status_code == 400 and "queueid" in _error(no_queue)["message"]
    # AddToQueue moves the case's active item to another queue; a task gets a new item
    second = _create(dataverse, "queues", {"name": "Fallback"})
    moved = dataverse.post(f"queues({second})/Microsoft.Dynamics.CRM.AddToQueue", json={
        "Target": {"@odata.type": "Microsoft.Dynamics.CRM.incident", "incidentid": case}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["QueueItemId"] == item_id
    where = dataverse.get(f"queueitems({item_id})", params={"$select": "_queueid_value"}).json()
    assert where["_queueid_value"] == second
    task = _create(dataverse, "tasks", {"subject": "Queue this task"})
    added = dataverse.post(f"queues({second})/Microsoft.Dynamics.CRM.AddToQueue", json={
        "Target": {"@odata.type": "Microsoft.Dynamics.CRM.task", "activityid": task}})
    assert added.status_code == 200 and added.json()["QueueItemId"] not in (item_id, None)
    not_queueable = dataverse.post(f"queues({second})/Microsoft.Dynamics.CRM.AddToQueue", json={
        "Target": {"@odata.type": "Microsoft.Dynamics.CRM.opportunity", "opportunityid": deal}})
    assert not_queueable.status_code == 400 and "not enabled for queues" in _error(not_queueable)["message"]


def test_annotation_client_id_and_duplicate_key(dataverse: httpx.Client) -> None:
    account = _create(dataverse, "accounts", {"name": "Noted"})
    note_id = str(uuid.uuid4())
    body = {"annotationid": note_id, "subject": "Deterministic", "objectid_account@odata.bind": f"/accounts({account})"}
    assert _create(dataverse, "annotations", body) == note_id
    again = dataverse.post("annotations", json=body)
    assert again.status_code == 412 and _error(again)["code"] == "0x80040237"
    assert _error(again)["@Microsoft.PowerApps.CDS.ErrorDetails.ApiExceptionMessageName"] == "DuplicateRecord"
    # the same through $batch (continue-on-error): first part created, second refused with 412
    other = str(uuid.uuid4())
    parts = [_part("POST", "annotations", {**body, "annotationid": other}), _part("POST", "annotations",
                                                                                 {**body, "annotationid": other})]
    assert _statuses(_batch(dataverse, parts, prefer="odata.continue-on-error")) == [204, 412]


def test_activity_category_subcategory_and_times(dataverse: httpx.Client) -> None:
    account = _create(dataverse, "accounts", {"name": "Activities"})
    common = {"category": "visit", "subcategory": "fixed", "actualdurationminutes": 45, "prioritycode": 2,
              "actualstart": "2023-05-01T09:00:00Z", "actualend": "2023-05-01T09:45:00Z"}
    for entity_set, table, extra in (("tasks", "task", {}), ("phonecalls", "phonecall", {"directioncode": False}),
                                     ("appointments", "appointment", {"scheduledstart": "2023-05-01T09:00:00Z",
                                                                      "scheduledend": "2023-05-01T09:45:00Z"})):
        created = dataverse.post(entity_set, headers=REPRESENTATION, json={
            "subject": f"{table} done", **common, **extra, "statecode": 1,
            f"regardingobjectid_account_{table}@odata.bind": f"/accounts({account})"})
        assert created.status_code == 201, created.text
        got = created.json()
        assert (got["category"], got["subcategory"], got["actualdurationminutes"], got["prioritycode"]) == (
            "visit", "fixed", 45, 2)
        assert got["actualend"] == "2023-05-01T09:45:00Z" and got["statecode"] == 1
        too_long = dataverse.post(entity_set, json={"subject": "x", "subcategory": "y" * 251, **extra})
        assert too_long.status_code == 400 and "maximum allowed length of '250'" in _error(too_long)["message"]
    # directioncode is a phone call column only
    no_direction = dataverse.post("tasks", json={"subject": "x", "directioncode": True})
    assert no_direction.status_code == 400 and "Could not find a property named 'directioncode'" in _error(
        no_direction)["message"]


def _relationship(name: str, referenced: str, referencing: str, lookup: str, **extra: Any) -> dict[str, Any]:
    """The OneToManyRelationshipMetadata body the Dataverse connector posts for a custom lookup."""
    return {"@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata", "SchemaName": name,
            "ReferencedEntity": referenced, "ReferencingEntity": referencing,
            "CascadeConfiguration": {"Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade",
                                     "Reparent": "NoCascade", "Share": "NoCascade", "Unshare": "NoCascade"},
            "Lookup": {"@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", "AttributeType": "Lookup",
                       "AttributeTypeName": {"Value": "LookupType"}, "SchemaName": lookup,
                       "DisplayName": {"LocalizedLabels": [{"Label": lookup, "LanguageCode": 1033}]},
                       "RequiredLevel": {"Value": "None"}}, **extra}


def test_relationship_definitions_create_custom_lookups(dataverse: httpx.Client) -> None:
    # WHEN the connector's OneToManyRelationshipMetadata is posted THEN the lookup exists at once
    created = dataverse.post("RelationshipDefinitions", json=_relationship(
        "flit_account_incident_locationid", "account", "incident", "flit_locationid"))
    assert created.status_code == 204, created.text
    assert re.search(rf"/RelationshipDefinitions\({GUID}\)$", created.headers["OData-EntityId"])
    rel = dataverse.get("RelationshipDefinitions(SchemaName='flit_account_incident_locationid')").json()
    assert (rel["ReferencingAttribute"], rel["ReferencingEntityNavigationPropertyName"], rel["ReferencedEntity"]) == (
        "flit_locationid", "flit_locationid", "account")
    assert dataverse.get(f"RelationshipDefinitions({rel['MetadataId']})").status_code == 200
    column = dataverse.get("EntityDefinitions(LogicalName='incident')/Attributes(LogicalName='flit_locationid')").json()
    assert column["@odata.type"] == "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
    assert column["Targets"] == ["account"] and column["IsCustomAttribute"] is True
    site = _create(dataverse, "accounts", {"name": "Site"})
    customer = _create(dataverse, "accounts", {"name": "Owner of site"})
    case = _create(dataverse, "incidents", {"title": "At site",
                                            "customerid_account@odata.bind": f"/accounts({customer})",
                                            "flit_locationid@odata.bind": f"/accounts({site})"})
    got = dataverse.get(f"incidents({case})", params={"$select": "_flit_locationid_value"}).json()
    assert got["_flit_locationid_value"] == site
    wrong_target = dataverse.patch(f"incidents({case})", json={"flit_locationid@odata.bind": f"/incidents({case})"})
    assert wrong_target.status_code == 400
    # the navigation property is the lookup's SchemaName with its case: a lowercased name is undeclared
    assert dataverse.post("RelationshipDefinitions", json=_relationship(
        "flit_product_incident_kit", "product", "incident", "flit_KitId")).status_code == 204
    lowered = dataverse.patch(f"incidents({case})", json={"flit_kitid@odata.bind": f"/accounts({site})"})
    assert lowered.status_code == 400 and "undeclared property 'flit_kitid'" in _error(lowered)["message"]
    # duplicates, an unknown table and a lookup posted to Attributes are refused
    dup = dataverse.post("RelationshipDefinitions", json=_relationship(
        "flit_account_incident_locationid", "account", "incident", "flit_otherid"))
    assert dup.status_code == 400 and "already exists" in _error(dup)["message"]
    assert dataverse.post("RelationshipDefinitions", json=_relationship(
        "flit_nosuch_incident_x", "nosuch", "incident", "flit_xid")).status_code == 404
    direct = dataverse.post("EntityDefinitions(LogicalName='incident')/Attributes", json={
        "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", "SchemaName": "flit_DirectId"})
    assert direct.status_code == 400 and "RelationshipDefinitions" in _error(direct)["message"]


# -- issue 14: refusals, FetchXML, bulk actions, metadata, OpenID discovery -------------------------------------


@pytest.mark.parametrize(("params", "code", "message"), [
    ({"$apply": "groupby((statecode),aggregate($count as n))"}, "0x80060888", "The query parameter $apply is not "
     "supported"),
    ({"$compute": "revenue mul 2 as doubled"}, "0x80060888", "The query parameter $compute is not supported"),
    ({"$expand": "primarycontactid($select=fullname)"}, "0x80060888", "The query parameter $expand is not supported"),
    ({"$skip": "10"}, "0x80060888", "The query parameter $skip is not supported"),
    ({"$search": "contoso"}, "0x80060888", "The query parameter $search is not supported"),
    ({"$select": "name", "utm_source": "FetchXMLBuilder"}, "0x0", "The query parameter utm_source is not supported"),
    ({"sql": "SELECT TOP 10 accountid, name FROM account"}, "0x0", "The query parameter sql is not supported"),
    ({"savedQuery": str(uuid.uuid4())}, "0x0", "The query parameter savedQuery is not supported"),
])
def test_unimplemented_query_options_are_refused_not_ignored(dataverse: httpx.Client, params: dict[str, str],
                                                             code: str, message: str) -> None:
    # GIVEN a table with rows WHEN a client sends an option the stand-in does not implement
    _create(dataverse, "accounts", {"name": "Refusal probe"})
    response = dataverse.get("accounts", params=params)
    # THEN Dataverse's refusal comes back instead of the whole table
    assert response.status_code == 400, response.text
    assert _error(response) == {"code": code, "message": message}


def test_refusals_on_single_records_writes_and_filters(dataverse: httpx.Client) -> None:
    account = _create(dataverse, "accounts", {"name": "Single"})
    expand = dataverse.get(f"accounts({account})", params={"$select": "name", "$expand": "primarycontactid"})
    assert expand.status_code == 400 and _error(expand)["message"] == "The query parameter $expand is not supported"
    write = dataverse.post("accounts", params={"$filter": "name eq 'x'"}, json={"name": "Nope"})
    assert write.status_code == 400 and "$filter" in _error(write)["message"]
    assert _count(dataverse, "accounts", "name", "Nope") == 0
    # the shared-variable parameter of Microsoft's examples is accepted
    assert dataverse.post("accounts", params={"tag": "migration"}, json={"name": "Tagged"}).status_code == 204
    # unsupported functions in $filter are refused with OData's wording or the stand-in's list
    unknown = dataverse.get("accounts", params={"$filter": "substring(name,1) eq 'x'"})
    assert unknown.status_code == 400 and "An unknown function with name 'substring' was found" in \
        _error(unknown)["message"]
    last_days = dataverse.get("accounts", params={"$filter": "Microsoft.Dynamics.CRM.LastXDays(PropertyName="
                                                             "'createdon',PropertyValue=7)"})
    assert last_days.status_code == 400 and "LastXDays" in _error(last_days)["message"]
    lambda_any = dataverse.get("accounts", params={"$filter": "contact_customer_accounts/any(c:c/firstname eq 'x')"})
    assert lambda_any.status_code == 400
    bad_count = dataverse.get("accounts", params={"$count": "yes"})
    bad_token = dataverse.get("accounts", params={"$skiptoken": "garbage"})
    assert bad_count.status_code == 400 and bad_token.status_code == 400
    batch = dataverse.post("$batch", params={"$filter": "x"}, content=b"",
                           headers={"Content-Type": "multipart/mixed; boundary=batch_x"})
    assert batch.status_code == 400 and _error(batch)["message"] == "The query parameter $filter is not supported"
    # parameter aliases are honoured in $filter
    aliased = dataverse.get("accounts", params={"$filter": "name eq @n", "@n": "'Single'", "$select": "name"})
    assert aliased.status_code == 200 and [r["name"] for r in aliased.json()["value"]] == ["Single"]


def _fetch(client: httpx.Client, entity_set: str, xml: str, annotations: bool = True) -> httpx.Response:
    headers = {"Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,'
                         'Microsoft.Dynamics.CRM.morerecords"'} if annotations else {}
    return client.get(entity_set, params={"fetchXml": xml}, headers=headers)


def test_fetchxml_filters_orders_and_omits_nulls(dataverse: httpx.Client) -> None:
    # GIVEN accounts with ticker symbols, one without
    tag = uuid.uuid4().hex[:8]
    for name, ticker, staff in (("Ann", "BUY", 10), ("Bob", None, 20), ("Cid", "OWN", 30), ("Dee", "BAX", 40)):
        _create(dataverse, "accounts", {"name": f"{name}-{tag}", "tickersymbol": ticker, "numberofemployees": staff})
    xml = (f"<fetch><entity name='account'><attribute name='name'/><attribute name='tickersymbol'/>"
           f"<filter type='and'><condition attribute='name' operator='like' value='%-{tag}'/>"
           "<filter type='or'><condition attribute='tickersymbol' operator='like' value='b%'/>"
           "<condition attribute='tickersymbol' operator='null'/></filter></filter>"
           "<order attribute='name' descending='true'/></entity></fetch>")
    # WHEN the query is sent as fetchXml THEN the filter, the order and the null-free rows match FetchXML
    response = _fetch(dataverse, "accounts", xml, annotations=False)
    assert response.status_code == 200, response.text
    rows = response.json()["value"]
    assert [r["name"] for r in rows] == [f"Dee-{tag}", f"Bob-{tag}", f"Ann-{tag}"]
    assert "tickersymbol" not in rows[1] and rows[0]["tickersymbol"] == "BAX" and "accountid" in rows[0]
    assert "numberofemployees" not in rows[0]
    in_query = (f"<fetch><entity name='account'><attribute name='name'/><filter>"
                f"<condition attribute='name' operator='ends-with' value='-{tag}'/>"
                f"<condition attribute='name' operator='in'><value>ann-{tag}</value><value>Cid-{tag}</value>"
                "</condition><condition attribute='numberofemployees' operator='ge' value='10'/>"
                "<condition attribute='tickersymbol' operator='not-null'/></filter></entity></fetch>")
    got = _fetch(dataverse, "accounts", in_query).json()["value"]
    assert sorted(r["name"] for r in got) == [f"Ann-{tag}", f"Cid-{tag}"]


def test_fetchxml_paging_cookie_and_morerecords(dataverse: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    for n in range(7):
        _create(dataverse, "accounts", {"name": f"P{tag}-{n}"})
    base = (f"<entity name='account'><attribute name='name'/><filter><condition attribute='name' "
            f"operator='begins-with' value='P{tag}'/></filter><order attribute='name'/></entity>")
    seen: list[str] = []
    page, cookie = 1, None
    while True:
        attrs = f"count='3' page='{page}'"
        if cookie:
            inner = re.search(r'pagingcookie="([^"]+)"', cookie).group(1)  # type: ignore[union-attr]
            from urllib.parse import unquote
            from xml.sax.saxutils import quoteattr
            attrs += f" paging-cookie={quoteattr(unquote(unquote(inner)))}"
        body = _fetch(dataverse, "accounts", f"<fetch {attrs}>{base}</fetch>").json()
        seen += [r["name"] for r in body["value"]]
        if not body["@Microsoft.Dynamics.CRM.morerecords"]:
            assert "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie" not in body
            break
        cookie = body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]
        assert cookie.startswith(f'<cookie pagenumber="{page + 1}" pagingcookie="%253ccookie%2520page%253d%2522')
        page += 1
    assert seen == [f"P{tag}-{n}" for n in range(7)] and page == 3
    # simple paging (no cookie) and the annotations only when asked for
    plain = _fetch(dataverse, "accounts", f"<fetch count='3' page='3'>{base}</fetch>", annotations=False).json()
    assert [r["name"] for r in plain["value"]] == [f"P{tag}-6"] and "@Microsoft.Dynamics.CRM.morerecords" not in plain


@pytest.mark.parametrize(("xml", "fragment"), [
    ("<fetch><entity name='account'><link-entity name='contact' from='parentcustomerid' to='accountid'/>"
     "</entity></fetch>", "link-entity"),
    ("<fetch aggregate='true'><entity name='account'><attribute name='accountid' aggregate='count' alias='n'/>"
     "</entity></fetch>", "aggregate"),
    ("<fetch><entity name='account'><filter><condition attribute='createdon' operator='last-x-days' value='3'/>"
     "</filter></entity></fetch>", "last-x-days"),
    ("<fetch><entity name='account'><filter><condition attribute='name' operator='contains' value='x'/>"
     "</filter></entity></fetch>", "Unknown Condition Operator: contains"),
    ("<fetch><entity name='account'><attribute name='nosuch'/></entity></fetch>",
     "'account' entity doesn't contain attribute with Name = 'nosuch' and NameMapping = 'Logical'."),
    ("<fetch><entity name='contact'/></fetch>", "does not match the entity set 'accounts'"),
    ("<fetch count='5001'><entity name='account'/></fetch>", "count"),
    ("<fetch top='5' count='2'><entity name='account'/></fetch>", "top"),
    ("<fetch count='5000' page='11'><entity name='account'/></fetch>", "50,000"),
    ("<fetch><entity name='account'>", "not valid XML"),
])
def test_fetchxml_it_cannot_honour_is_refused(dataverse: httpx.Client, xml: str, fragment: str) -> None:
    response = _fetch(dataverse, "accounts", xml)
    assert response.status_code == 400, response.text
    assert fragment in _error(response)["message"]
    both = dataverse.get("accounts", params={"fetchXml": "<fetch><entity name='account'/></fetch>", "$top": "1"})
    assert both.status_code == 400 and _error(both)["message"] == "The query parameter $top is not supported"


def _targets(logical: str, *records: dict[str, Any]) -> dict[str, Any]:
    return {"Targets": [{"@odata.type": f"Microsoft.Dynamics.CRM.{logical}", **r} for r in records]}


def test_create_multiple_returns_ids_and_is_all_or_nothing(dataverse: httpx.Client, dynamics_admin: httpx.Client,
                                                           dynamics_knobs: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    own = str(uuid.uuid4())
    created = dataverse.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple",
                             json=_targets("account", {"name": f"B{tag}-1"}, {"name": f"B{tag}-2", "accountid": own}))
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse")
    assert len(body["Ids"]) == 2 and body["Ids"][1] == own and re.fullmatch(GUID, body["Ids"][0])
    # one failing record fails the whole request with that record's error, nothing written
    failing = dataverse.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json=_targets(
        "account", {"name": f"B{tag}-3"}, {"name": f"B{tag}-4", "industrycode": 999}))
    assert failing.status_code == 400 and _error(failing)["code"] == "0x8004431a"
    assert _count(dataverse, "accounts", "name", f"B{tag}-3") == 0
    duplicate = dataverse.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple",
                               json=_targets("account", {"name": f"B{tag}-5"}, {"name": "dup", "accountid": own}))
    assert duplicate.status_code == 412 and _count(dataverse, "accounts", "name", f"B{tag}-5") == 0
    # every item needs its @odata.type, of the entity set's table
    untyped = dataverse.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [{"name": "x"}]})
    wrong = dataverse.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple",
                           json=_targets("contact", {"lastname": "x"}))
    assert untyped.status_code == 400 and "@odata.type" in _error(untyped)["message"]
    assert wrong.status_code == 400 and "Microsoft.Dynamics.CRM.contact" in _error(wrong)["message"]
    # the per-request record limit (a knob; none by default) and unsupported tables
    dynamics_knobs(bulk_max_targets=2, bulk_unsupported_tables=["annotation"])
    over = dataverse.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple",
                          json=_targets("account", *({"name": f"B{tag}-over"} for _ in range(3))))
    assert over.status_code == 500 and "SQL timeout expired" in _error(over)["message"]
    assert _count(dataverse, "accounts", "name", f"B{tag}-over") == 0
    notes = dataverse.post("annotations/Microsoft.Dynamics.CRM.CreateMultiple", json=_targets("annotation", {}))
    assert notes.status_code == 400 and "MessageProcessor.Empty" in _error(notes)["message"]
    # one request for the service protection limits and in the statistics
    stats = dynamics_admin.get("/__standin/stats").json()["by_request"]
    assert stats["POST accounts/CreateMultiple"] >= 3


def test_update_and_upsert_multiple(dataverse: httpx.Client, dynamics_schema: None) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = dataverse.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json=_targets(
        "account", {"name": f"U{tag}-1"}, {"name": f"U{tag}-2"})).json()["Ids"]
    updated = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json=_targets(
        "account", {"accountid": ids[0], "telephone1": "1"}, {"accountid": ids[1], "telephone1": "2"}))
    assert updated.status_code == 204 and not updated.content
    assert dataverse.get(f"accounts({ids[1]})", params={"$select": "telephone1"}).json()["telephone1"] == "2"
    ghost = str(uuid.uuid4())
    missing = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json=_targets(
        "account", {"accountid": ids[0], "telephone1": "changed"}, {"accountid": ghost, "telephone1": "x"}))
    assert missing.status_code == 404 and _error(missing)["message"] == f"account With Ids = {ghost} Do Not Exist"
    assert dataverse.get(f"accounts({ids[0]})", params={"$select": "telephone1"}).json()["telephone1"] == "1"
    # upsert by @odata.id with the alternate key, by key attributes in the body, and by primary key
    upsert = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=_targets(
        "account",
        {"name": f"U{tag}-new", "@odata.id": f"accounts(flit_sercomid='S-{tag}')"},
        {"name": f"U{tag}-body", "flit_sercomid": f"T-{tag}"},
        {"name": f"U{tag}-1 renamed", "accountid": ids[0]}))
    assert upsert.status_code == 204, upsert.text
    again = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=_targets(
        "account", {"telephone1": "9", "@odata.id": f"accounts(flit_sercomid='S-{tag}')"},
        {"telephone1": "8", "flit_sercomid": f"T-{tag}"}))
    assert again.status_code == 204
    by_key = dataverse.get(f"accounts(flit_sercomid='S-{tag}')", params={"$select": "name,telephone1"}).json()
    assert by_key["name"] == f"U{tag}-new" and by_key["telephone1"] == "9"
    assert _count(dataverse, "accounts", "flit_sercomid", f"T-{tag}") == 1
    assert dataverse.get(f"accounts({ids[0]})", params={"$select": "name"}).json()["name"] == f"U{tag}-1 renamed"
    # all or nothing: a bad key value rolls the earlier upserts back
    rolled = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=_targets(
        "account", {"name": "kept?", "@odata.id": f"accounts(flit_sercomid='R-{tag}')"},
        {"name": "x" * 200, "@odata.id": f"accounts(flit_sercomid='R2-{tag}')"}))
    assert rolled.status_code == 400 and _error(rolled)["code"] == "0x80044331"
    assert _count(dataverse, "accounts", "flit_sercomid", f"R-{tag}") == 0


def test_upsert_multiple_targets_as_dataverse_takes_them(dataverse: httpx.Client, dynamics_schema: None,
                                                         dynamics_admin: httpx.Client) -> None:
    # GIVEN a parent account to bind to, and keys no record has yet
    tag = uuid.uuid4().hex[:8]
    parent = dataverse.post("accounts", json={"name": f"P{tag}"}).headers["OData-EntityId"].rsplit("(", 1)[1][:-1]
    # WHEN the alternate key is also sent in the body of a target that does not exist yet
    twice = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=_targets(
        "account", {"name": "a", "@odata.id": f"accounts(flit_sercomid='K1-{tag}')"},
        {"name": "b", "flit_sercomid": f"K2-{tag}", "@odata.id": f"accounts(flit_sercomid='K2-{tag}')"}))
    # THEN the create path refuses it like Dataverse (an unexpected error), and nothing is written
    assert twice.status_code == 400 and _error(twice)["code"] == "0x80040216", twice.text
    assert _count(dataverse, "accounts", "flit_sercomid", f"K1-{tag}") == 0
    # WHEN an @odata.id is an absolute URL THEN it is an OData payload error (a relative URI is expected)
    absolute = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=_targets(
        "account", {"name": "c", "@odata.id": f"{dataverse.base_url}accounts(flit_sercomid='K3-{tag}')"}))
    assert absolute.status_code == 400 and "relative" in _error(absolute)["message"], absolute.text
    assert _count(dataverse, "accounts", "flit_sercomid", f"K3-{tag}") == 0
    # WHEN targets bind lookups with @odata.bind, keyed by @odata.id only, inside a $batch
    reply = _batch(dataverse, [_part("POST", "/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.UpsertMultiple", _targets(
        "account", {"name": f"C{tag}", "parentaccountid@odata.bind": f"/accounts({parent})",
                    "@odata.id": f"accounts(flit_sercomid='K4-{tag}')"}))], prefer="odata.continue-on-error")
    assert _statuses(reply) == [204], reply.text
    # THEN the record carries its key and the binding, and the key already in place may be named twice on update
    row = dataverse.get(f"accounts(flit_sercomid='K4-{tag}')", params={"$select": "name,_parentaccountid_value"})
    assert row.json()["_parentaccountid_value"] == parent
    update = dataverse.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=_targets(
        "account", {"name": "renamed", "flit_sercomid": f"K4-{tag}",
                    "@odata.id": f"accounts(flit_sercomid='K4-{tag}')"}))
    assert update.status_code == 204, update.text
    # AND a bulk action inside a $batch is counted under its own name
    stats = dynamics_admin.get("/__standin/stats").json()["by_request"]
    assert stats["POST accounts/UpsertMultiple"] >= 4


def test_entity_metadata_properties_and_filters(dataverse: httpx.Client) -> None:
    listed = dataverse.get("EntityDefinitions", params={
        "$select": "LogicalName,IsPrivate,IsCustomizable,IsIntersect,OwnershipType",
        "$filter": "IsPrivate eq false and IsIntersect eq false and IsCustomizable/Value eq true and "
                   "OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'"})
    assert listed.status_code == 200, listed.text
    rows = {r["LogicalName"]: r for r in listed.json()["value"]}
    assert "account" in rows and "transactioncurrency" not in rows
    assert rows["account"]["IsCustomizable"]["Value"] is True and rows["account"]["IsPrivate"] is False
    activities = dataverse.get("EntityDefinitions", params={"$select": "LogicalName", "$filter": "IsActivity eq true"})
    assert {"task", "phonecall"} <= {r["LogicalName"] for r in activities.json()["value"]}
    # the documented enum and managed-property paths on attributes
    required = dataverse.get("EntityDefinitions(LogicalName='account')/Attributes", params={
        "$select": "LogicalName", "$filter": "RequiredLevel/Value eq "
                                             "Microsoft.Dynamics.CRM.AttributeRequiredLevel'ApplicationRequired'"})
    assert [a["LogicalName"] for a in required.json()["value"]] == ["name"]
    picklists = dataverse.get("EntityDefinitions(LogicalName='account')", params={
        "$select": "LogicalName", "$expand": "Attributes($select=LogicalName;$filter=AttributeType eq "
                                             "Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist')"}).json()
    assert {a["LogicalName"] for a in picklists["Attributes"]} == {"customertypecode", "industrycode"}
    for params in ({"$filter": "DisplayName eq 'x'"}, {"$top": "5"}, {"$orderby": "LogicalName"},
                   {"$filter": "IsCustomizable eq true"}):
        refused = dataverse.get("EntityDefinitions", params=params)
        assert refused.status_code == 400, params


def _metadata_changes(client: httpx.Client, query: dict[str, Any], stamp: str | None = None) -> httpx.Response:
    args = "Query=@p1" + (",ClientVersionStamp=@p2" if stamp else "")
    params = {"@p1": json.dumps(query), **({"@p2": f"'{stamp}'"} if stamp else {})}
    return client.get(f"RetrieveMetadataChanges({args})", params=params)


def test_retrieve_metadata_changes(dataverse: httpx.Client) -> None:
    query = {
        "Criteria": {"FilterOperator": "Or", "Conditions": [
            {"ConditionOperator": "Equals", "PropertyName": "LogicalName",
             "Value": {"Type": "System.String", "Value": "account"}},
            {"ConditionOperator": "Equals", "PropertyName": "LogicalName",
             "Value": {"Type": "System.String", "Value": "contact"}}]},
        "Properties": {"AllProperties": False, "PropertyNames": ["SchemaName", "Attributes"]},
        "AttributeQuery": {"Properties": {"AllProperties": False, "PropertyNames": ["LogicalName"]},
                           "Criteria": {"FilterOperator": "And", "Conditions": [
                               {"ConditionOperator": "Equals", "PropertyName": "IsValidForCreate",
                                "Value": {"Type": "System.Boolean", "Value": "True"}}]}},
        "LabelQuery": {"FilterLanguages": [1033], "MissingLabelBehavior": 0},
    }
    response = _metadata_changes(dataverse, query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse")
    assert body["DeletedMetadata"] == {"Count": 0, "IsReadOnly": False, "Keys": [], "Values": []}
    entities = {e["LogicalName"]: e for e in body["EntityMetadata"]}
    assert set(entities) == {"account", "contact"}
    account = entities["account"]
    assert account["SchemaName"] == "Account" and account["EntitySetName"] is None and account["HasChanged"] is None
    names = {a["LogicalName"] for a in account["Attributes"]}
    assert "name" in names and "createdon" not in names
    name = next(a for a in account["Attributes"] if a["LogicalName"] == "name")
    assert name["MaxLength"] is None and name["@odata.type"] == "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    # a later call with the stamp returns only what changed since
    stamp = body["ServerVersionStamp"]
    assert re.fullmatch(r"\d+!\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", stamp)
    column = dataverse.post("EntityDefinitions(LogicalName='contact')/Attributes",
                            json=_attribute({"SchemaName": f"flit_Delta{uuid.uuid4().hex[:6]}"}))
    assert column.status_code == 204
    delta = _metadata_changes(dataverse, query, stamp).json()["EntityMetadata"]
    assert [e["LogicalName"] for e in delta] == ["contact"] and delta[0]["HasChanged"] is True
    assert [a["LogicalName"].startswith("flit_delta") for a in delta[0]["Attributes"]] == [True]
    # IsPrivate filters (what metadata-syncing tools send) and refusals
    private = {"Criteria": {"FilterOperator": "And", "Conditions": [
        {"ConditionOperator": "Equals", "PropertyName": "IsPrivate", "Value": {"Type": "System.Boolean",
                                                                               "Value": "false"}},
        {"ConditionOperator": "In", "PropertyName": "LogicalName",
         "Value": {"Type": "System.String[]", "Value": "['account','task']"}}]},
        "Properties": {"AllProperties": False, "PropertyNames": ["LogicalName", "IsPrivate"]}}
    got = _metadata_changes(dataverse, private).json()["EntityMetadata"]
    assert sorted(e["LogicalName"] for e in got) == ["account", "task"] and got[0]["Attributes"] is None
    for bad in ({**query, "RelationshipQuery": {"Properties": {"AllProperties": True}}},
                {**query, "Properties": {"AllProperties": False, "PropertyNames": ["SchemaName"]}},
                {"Criteria": {"Conditions": [{"ConditionOperator": "Equals", "PropertyName": "DisplayName",
                                              "Value": {"Type": "System.String", "Value": "x"}}]}}):
        assert _metadata_changes(dataverse, bad).status_code == 400
    expired = _metadata_changes(dataverse, query, "not-a-stamp")
    assert expired.status_code == 400 and _error(expired)["code"] == "0x80044352"


def test_openid_discovery_documents(dynamics_standin: RunningStandin) -> None:
    url, tenant, ca = dynamics_standin.url, dynamics_standin.info["tenant_id"], dynamics_standin.ca_path
    v2 = httpx.get(f"{url}/{tenant}/v2.0/.well-known/openid-configuration", verify=ca).json()
    v1 = httpx.get(f"{url}/{tenant}/.well-known/openid-configuration", verify=ca).json()
    assert v2["token_endpoint"] == f"{url}/{tenant}/oauth2/v2.0/token" and v2["issuer"] == f"{url}/{tenant}/v2.0"
    assert v1["token_endpoint"] == f"{url}/{tenant}/oauth2/token"
    assert httpx.get(v2["jwks_uri"], verify=ca).json() == {"keys": []}
    unknown = httpx.get(f"{url}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration", verify=ca)
    assert unknown.status_code == 400 and "AADSTS90002" in unknown.json()["error_description"]
    found = httpx.get(f"{url}/common/discovery/instance", verify=ca, params={
        "api-version": "1.1", "authorization_endpoint": f"{url}/{tenant}/oauth2/v2.0/authorize"}).json()
    assert found["tenant_discovery_endpoint"] == f"{url}/{tenant}/v2.0/.well-known/openid-configuration"
    foreign = httpx.get(f"{url}/common/discovery/instance", verify=ca, params={
        "api-version": "1.1", "authorization_endpoint": "https://evil.example/t/oauth2/v2.0/authorize"})
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_instance"
    # the v1 token endpoint takes resource=
    form = {"grant_type": "client_credentials", **dynamics_standin.info["credentials"], "resource": url}
    v1_token = httpx.post(v1["token_endpoint"], data=form, verify=ca).json()
    assert v1_token["resource"] == url and v1_token["expires_in"] == "3599" and v1_token["access_token"]


def test_msal_signs_in_and_calls_the_web_api(dynamics_standin: RunningStandin) -> None:
    import msal
    import requests

    url, info = dynamics_standin.url, dynamics_standin.info
    authority = f"{url}/{info['tenant_id']}"
    cid, secret = info["credentials"]["client_id"], info["credentials"]["client_secret"]
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE must not override the stand-in's CA
    session.verify = dynamics_standin.ca_path
    # GIVEN Microsoft's identity library with the stand-in as authority (its OpenID document gives the token URL)
    app = msal.ConfidentialClientApplication(cid, client_credential=secret, authority=authority,
                                             http_client=session, validate_authority=False)
    # WHEN it signs in with client credentials
    result = app.acquire_token_for_client(scopes=[f"{url}/.default"])
    assert "access_token" in result, result
    # THEN the token calls the Web API
    who = session.get(f"{url}/api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {result['access_token']}",
                                                               "Accept": "application/json"})
    assert who.status_code == 200 and who.json()["OrganizationId"] == info["org_id"]
    wrong = msal.ConfidentialClientApplication(cid, client_credential="wrong", authority=authority,
                                               http_client=session, validate_authority=False)
    assert wrong.acquire_token_for_client(scopes=[f"{url}/.default"])["error"] == "invalid_client"
    # authority validation through the stand-in's instance discovery: its own host is known, others are not
    validated = msal.ConfidentialClientApplication(cid, client_credential=secret, authority=authority,
                                                   http_client=session,
                                                   instance_discovery=f"{url}/common/discovery/instance")
    assert validated.authority.token_endpoint == f"{authority}/oauth2/v2.0/token"
    with pytest.raises(ValueError, match="invalid_instance"):
        msal.ConfidentialClientApplication(cid, client_credential=secret, authority="https://crm.example.invalid/t",
                                           http_client=session, instance_discovery=f"{url}/common/discovery/instance")
    session.close()


def test_many_to_one_relationships_name_the_navigation_properties(dataverse: httpx.Client) -> None:
    # GIVEN a custom lookup whose SchemaName keeps its case (the navigation property keeps it too)
    created = dataverse.post("RelationshipDefinitions", json=_relationship(
        f"flit_account_contact_rel{uuid.uuid4().hex[:4]}", "account", "contact", "flit_HomeSiteId"))
    assert created.status_code == 204, created.text
    # WHEN a client lists the contact's many-to-one relationships (what the connector reads)
    response = dataverse.get("EntityDefinitions(LogicalName='contact')/ManyToOneRelationships", params={
        "$select": "ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName"})
    assert response.status_code == 200, response.text
    navs = {(r["ReferencingAttribute"], r["ReferencedEntity"]): r["ReferencingEntityNavigationPropertyName"]
            for r in response.json()["value"]}
    # THEN each lookup and target is there with the name to bind through
    assert navs[("flit_homesiteid", "account")] == "flit_HomeSiteId"
    assert navs[("parentcustomerid", "account")] == "parentcustomerid_account"
    assert navs[("parentcustomerid", "contact")] == "parentcustomerid_contact"
    incoming = dataverse.get("EntityDefinitions(LogicalName='account')/OneToManyRelationships",
                             params={"$filter": "ReferencingEntity eq 'contact'"}).json()["value"]
    assert {r["ReferencingAttribute"] for r in incoming} >= {"flit_homesiteid", "parentcustomerid"}
    assert dataverse.get("EntityDefinitions(LogicalName='account')/ManyToManyRelationships").json()["value"] == []
