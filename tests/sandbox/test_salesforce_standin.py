"""The Salesforce stand-in driven by an unmodified simple-salesforce over real HTTPS.

One stand-in process (module fixture) serves a fresh org; the schema a migration would
deploy (external-id fields) is created once through the Tooling API. Tests that change
knobs restore them through ``salesforce_knobs``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sandbox.salesforce import snapshot
from sandbox.serve import RunningStandin, start_standin
from tests.sandbox.conftest import salesforce_client, salesforce_token


def _field(sf: Salesforce, full_name: str, **metadata: Any) -> dict[str, Any]:
    return dict(
        sf.toolingexecute("sobjects/CustomField", method="POST", data={"FullName": full_name, "Metadata": metadata})
    )


def _error(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    """First error of a simple-salesforce exception's JSON array body."""
    return dict(exc.value.content[0])


def _collections(sf: Salesforce, method: str, path: str, body: Any = None, **params: Any) -> Any:
    return sf.restful(path, method=method, params=params or None, data=json.dumps(body) if body is not None else None)


@pytest.fixture(scope="module")
def salesforce_schema(sf: Salesforce) -> None:
    """The migration's external-id fields (unique on Account/Contact, non-unique legacy code)."""
    _field(sf, "Account.Sercom_Id__c", label="Sercom Id", type="Text", length=50, externalId=True, unique=True)
    _field(sf, "Contact.Sercom_Id__c", label="Sercom Id", type="Text", length=50, externalId=True, unique=True)
    _field(sf, "Account.Legacy_Code__c", label="Legacy Code", type="Text", length=20, externalId=True)


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- auth -----------------------------------------------------------------------------------------------


def test_token_endpoint_and_missing_session(salesforce_standin: RunningStandin, sf: Salesforce) -> None:
    # GIVEN the org's OAuth endpoint
    url = salesforce_standin.url
    creds = salesforce_standin.info["credentials"]
    # WHEN the password is wrong THEN the real OAuth error comes back
    bad = httpx.post(
        url + "/services/oauth2/token",
        verify=salesforce_standin.ca_path,
        data={"grant_type": "password", **creds, "password": "nope"},
    )
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    # WHEN client credentials are used THEN the token response has Salesforce's fields
    good = httpx.post(
        url + "/services/oauth2/token",
        verify=salesforce_standin.ca_path,
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
    )
    body = good.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["token_type"] == "Bearer"  # noqa: S105 - a token type, not a password
    assert body["instance_url"] == url and body["issued_at"].isdigit()
    # WHEN a data call carries no or a bogus token THEN 401 INVALID_SESSION_ID
    anonymous = httpx.get(url + "/services/data/v60.0/limits", verify=salesforce_standin.ca_path)
    assert anonymous.status_code == 401
    assert anonymous.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    stranger = salesforce_client(salesforce_standin, "00Dbogus!token")
    with pytest.raises(SalesforceExpiredSession):
        stranger.query("SELECT Id FROM Account")
    stranger.session.close()


# -- REST CRUD / upsert / describe ---------------------------------------------------------------------


def test_crud_round_trip(sf: Salesforce) -> None:
    # GIVEN a new account
    created = sf.Account.create({"Name": "Crud Co", "BillingCity": "Lyon", "AnnualRevenue": 1200})
    assert created["success"] and created["errors"] == [] and created["id"].startswith("001")
    assert len(created["id"]) == 18
    # WHEN it is read, updated, read again
    got = sf.Account.get(created["id"])
    assert got["Name"] == "Crud Co" and got["IsDeleted"] is False and got["OwnerId"].startswith("005")
    assert got["attributes"] == {"type": "Account", "url": f"/services/data/v60.0/sobjects/Account/{created['id']}"}
    assert sf.Account.update(created["id"], {"BillingCity": "Nantes"}) == 204
    # THEN the change is visible and 15-char ids work too
    assert sf.Account.get(created["id"][:15])["BillingCity"] == "Nantes"
    # WHEN deleted THEN GET is 404 and only queryAll still sees it
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Id = '{created['id']}'"
    assert sf.query(soql)["totalSize"] == 0
    assert sf.query_all(soql, include_deleted=True)["records"][0]["IsDeleted"] is True


def test_upsert_created_then_updated(sf: Salesforce, salesforce_schema: None) -> None:
    # GIVEN an external id that does not exist yet
    # WHEN upserted twice
    first = sf.Account.upsert("Sercom_Id__c/UP-1", {"Name": "Upsert One"}, raw_response=True)
    second = sf.Account.upsert("Sercom_Id__c/UP-1", {"Name": "Upsert One Renamed"}, raw_response=True)
    # THEN the first call created (201) and the second updated (200, created false) the same record
    assert first.status_code == 201 and first.json()["created"] is True
    assert second.status_code == 200 and second.json() == {**first.json(), "created": False}
    assert sf.Account.get_by_custom_id("Sercom_Id__c", "UP-1")["Name"] == "Upsert One Renamed"


def test_upsert_on_non_unique_external_id_is_300(sf: Salesforce, salesforce_schema: None) -> None:
    # GIVEN two accounts sharing a non-unique external id value
    ids = [sf.Account.create({"Name": f"Twin {i}", "Legacy_Code__c": "TWIN"})["id"] for i in range(2)]
    # WHEN upserting by that value THEN 300 lists both records
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Account.upsert("Legacy_Code__c/TWIN", {"Name": "Which one?"})
    assert exc.value.status == 300
    assert sorted(exc.value.content) == sorted(f"/services/data/v60.0/sobjects/Account/{i}" for i in ids)


def test_describe_required_fields_picklists_and_references(sf: Salesforce) -> None:
    # GIVEN the Account, Contact and Case describes
    account = sf.Account.describe()
    fields = {f["name"]: f for f in account["fields"]}

    def required(desc: dict[str, Any]) -> set[str]:
        return {
            f["name"] for f in desc["fields"] if f["createable"] and not f["nillable"] and not f["defaultedOnCreate"]
        }

    # THEN required-on-create follows createable && !nillable && !defaultedOnCreate
    assert required(account) == {"Name"}
    assert required(sf.Contact.describe()) == {"LastName"}
    assert required(sf.Opportunity.describe()) == {"Name", "StageName", "CloseDate"}
    assert account["keyPrefix"] == "001" and account["name"] == "Account"
    assert fields["BillingCity"]["length"] == 40 and fields["Phone"]["type"] == "phone"
    assert [p["value"] for p in fields["Type"]["picklistValues"]][:2] == ["Prospect", "Customer - Direct"]
    assert fields["ParentId"]["referenceTo"] == ["Account"] and fields["ParentId"]["relationshipName"] == "Parent"
    case_status = {f["name"]: f for f in sf.Case.describe()["fields"]}["Status"]
    assert case_status["restrictedPicklist"] is True
    assert [p["value"] for p in case_status["picklistValues"] if p["defaultValue"]] == ["New"]
    what = {f["name"]: f for f in sf.Task.describe()["fields"]}["WhatId"]
    assert {"Account", "Opportunity", "Case", "Asset", "Contract"} <= set(what["referenceTo"])
    assert fields["CreatedDate"]["createable"] is True and fields["CreatedDate"]["updateable"] is False


# -- Tooling ------------------------------------------------------------------------------------------------


def test_custom_field_is_unusable_until_created(sf: Salesforce) -> None:
    # GIVEN a field the org does not have
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "Regional", "Region__c": "EMEA"})
    assert _error(exc)["errorCode"] == "INVALID_FIELD"
    assert _error(exc)["message"].startswith("No such column 'Region__c' on entity 'Account'.")
    # WHEN the field is deployed through the Tooling API
    result = _field(
        sf,
        "Account.Region__c",
        label="Region",
        type="Picklist",
        valueSet={
            "restricted": True,
            "valueSetDefinition": {
                "value": [
                    {"fullName": "EMEA", "label": "EMEA", "default": False},
                    {"fullName": "APAC", "label": "APAC", "default": True},
                ]
            },
        },
    )
    assert result["success"] and result["id"].startswith("00N")
    # THEN it is writable, described, queryable and restricted
    new_id = sf.Account.create({"Name": "Regional", "Region__c": "EMEA"})["id"]
    assert sf.Account.get(new_id)["Region__c"] == "EMEA"
    assert sf.Account.get(sf.Account.create({"Name": "Defaulted"})["id"])["Region__c"] == "APAC"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "Regional", "Region__c": "Mars"})
    assert _error(exc)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    # AND a second deploy of the same name or a Text field without length is refused
    with pytest.raises(SalesforceMalformedRequest) as exc:
        _field(sf, "Account.Region__c", label="Region", type="Text", length=10)
    assert _error(exc)["errorCode"] == "DUPLICATE_DEVELOPER_NAME"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        _field(sf, "Account.No_Length__c", label="No length", type="Text")
    assert _error(exc)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    tooling_soql = "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE DeveloperName = 'Region'"
    found = sf.toolingexecute("query/?q=" + tooling_soql)
    assert found["totalSize"] == 1 and found["records"][0]["TableEnumOrId"] == "Account"


def test_custom_object_then_lookup_and_relationship_query(sf: Salesforce) -> None:
    # GIVEN an object the org does not have
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Work_Order__c")
    assert _error(exc)["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Work_Order__c.create({"Name": "x"})
    # WHEN it is created (auto-number name) with a lookup to Account
    created = sf.toolingexecute(
        "sobjects/CustomObject",
        method="POST",
        data={
            "FullName": "Work_Order__c",
            "Metadata": {
                "label": "Work Order",
                "pluralLabel": "Work Orders",
                "deploymentStatus": "Deployed",
                "sharingModel": "ReadWrite",
                "nameField": {"type": "AutoNumber", "label": "Work Order Number", "displayFormat": "WO-{0000}"},
            },
        },
    )
    assert created["id"].startswith("01I")
    _field(
        sf,
        "Work_Order__c.Account__c",
        label="Account",
        type="Lookup",
        referenceTo="Account",
        relationshipName="Work_Orders",
    )
    _field(sf, "Work_Order__c.Hours__c", label="Hours", type="Number", precision=5, scale=1)
    account = sf.Account.create({"Name": "Lookup Parent"})["id"]
    order = sf.Work_Order__c.create({"Account__c": account, "Hours__c": 2.25})
    # THEN the record has a custom key prefix, an auto number and a working parent path
    assert order["id"].startswith("a01")
    soql = f"SELECT Name, Hours__c, Account__r.Name FROM Work_Order__c WHERE Id = '{order['id']}'"
    row = sf.query(soql)["records"][0]
    assert row["Name"] == "WO-0001" and row["Hours__c"] == 2.3 and row["Account__r"]["Name"] == "Lookup Parent"
    desc = sf.Work_Order__c.describe()
    assert desc["custom"] is True and desc["keyPrefix"] == "a01"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Work_Order__c.create({"Hours__c": 12345.0})
    assert _error(exc)["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"


# -- validation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "record", "code", "message_start"),
    [
        ("Account", {"BillingCity": "Paris"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]"),
        (
            "Account",
            {"Name": "Long", "BillingCity": "x" * 41},
            "STRING_TOO_LONG",
            "Billing City: data value too large: " + "x" * 41 + " (max length=40)",
        ),
        (
            "Case",
            {"Status": "Bogus"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "Status: bad value for restricted picklist field: Bogus",
        ),
        (
            "Contact",
            {"LastName": "Orphan", "AccountId": "001000000000000AAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        ),
        (
            "Contact",
            {"LastName": "Bad", "AccountId": "not-an-id"},
            "MALFORMED_ID",
            "Account ID: id value of incorrect type",
        ),
        (
            "Contact",
            {"LastName": "Mail", "Email": "nope"},
            "INVALID_EMAIL_ADDRESS",
            "Email: invalid email address: nope",
        ),
        (
            "Opportunity",
            {"Name": "Opp", "StageName": "Prospecting", "CloseDate": "2024-13-45"},
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of date",
        ),
        (
            "Account",
            {"Name": "With Id", "Id": "001000000000000AAA"},
            "INVALID_FIELD",
            "The Id field should not be specified in the sobject data.",
        ),
        ("Asset", {"Name": "Floating"}, "FIELD_INTEGRITY_EXCEPTION", "Every asset needs an account"),
        (
            "Event",
            {"Subject": "Call", "StartDateTime": "2024-05-01T10:00:00Z"},
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [DurationInMinutes]",
        ),
        (
            "Account",
            {"Name": "Bad owner", "OwnerId": "005000000000000AAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        ),
    ],
)
def test_rest_validation_errors(
    sf: Salesforce, obj: str, record: dict[str, Any], code: str, message_start: str
) -> None:
    # GIVEN an invalid record WHEN created over REST THEN 400 with the real code and message
    with pytest.raises(SalesforceMalformedRequest) as exc:
        getattr(sf, obj).create(record)
    assert exc.value.status == 400
    assert _error(exc)["errorCode"] == code
    assert _error(exc)["message"].startswith(message_start)


def test_object_rules_and_derived_fields(sf: Salesforce, salesforce_knobs: Any) -> None:
    # GIVEN an account
    account = sf.Account.create({"Name": "Rules Co"})["id"]
    # WHEN a contract is inserted as Activated THEN it is refused unless the knob allows it
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contract.create({"AccountId": account, "Status": "Activated", "StartDate": "2024-01-01", "ContractTerm": 12})
    assert _error(exc)["fields"] == ["Status"]
    draft = sf.Contract.get(
        sf.Contract.create({"AccountId": account, "StartDate": "2024-01-15", "ContractTerm": 12})["id"]
    )
    assert draft["Status"] == "Draft" and draft["EndDate"] == "2025-01-14" and draft["ContractNumber"]
    salesforce_knobs(contract_insert_activated=True)
    assert sf.Contract.create({"AccountId": account, "Status": "Activated"})["success"]
    # AND cases/opportunities/events/contacts get their derived fields
    case = sf.Case.get(sf.Case.create({"Subject": "Broken", "AccountId": account, "Status": "Closed"})["id"])
    assert case["Priority"] == "Medium" and case["IsClosed"] is True and case["ClosedDate"] and case["CaseNumber"]
    opp = sf.Opportunity.get(
        sf.Opportunity.create(
            {"Name": "Deal", "StageName": "Closed Won", "CloseDate": "2024-02-01", "AccountId": account}
        )["id"]
    )
    assert opp["IsWon"] is True and opp["Probability"] == 100
    event = sf.Event.get(
        sf.Event.create(
            {"Subject": "Visit", "StartDateTime": "2024-05-01T10:00:00Z", "DurationInMinutes": 30, "WhatId": account}
        )["id"]
    )
    assert event["EndDateTime"] == "2024-05-01T10:30:00.000+0000" and event["AccountId"] == account
    contact = sf.Contact.get(sf.Contact.create({"FirstName": "Grace", "LastName": "Hopper"})["id"])
    assert contact["Name"] == "Grace Hopper"


def test_inactive_owner_needs_the_permission(sf: Salesforce, salesforce_knobs: Any) -> None:
    # GIVEN the inactive user seeded from --users-file
    inactive = sf.query("SELECT Id FROM User WHERE IsActive = false")["records"][0]["Id"]
    # WHEN the org has 'Update Records with Inactive Owners' THEN a record can be owned by them
    assert sf.Account.create({"Name": "Legacy owned", "OwnerId": inactive})["success"]
    # WHEN the permission is off THEN INACTIVE_OWNER_OR_USER
    salesforce_knobs(audit_fields_permission=False)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "Legacy owned", "OwnerId": inactive})
    assert _error(exc)["errorCode"] == "INACTIVE_OWNER_OR_USER"


def test_audit_fields_insert_only_and_behind_permission(sf: Salesforce, salesforce_knobs: Any) -> None:
    # GIVEN the audit-field permission (default on)
    historic = {"Name": "Since 2015", "CreatedDate": "2015-03-01T09:00:00Z", "LastModifiedDate": "2016-01-01T00:00:00Z"}
    # WHEN inserting with CreatedDate THEN it sticks
    record_id = sf.Account.create(historic)["id"]
    got = sf.Account.get(record_id)
    assert got["CreatedDate"] == "2015-03-01T09:00:00.000+0000"
    assert got["LastModifiedDate"] == "2016-01-01T00:00:00.000+0000"
    # WHEN updating CreatedDate THEN INVALID_FIELD_FOR_INSERT_UPDATE
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.update(record_id, {"CreatedDate": "2014-01-01T00:00:00Z"})
    assert _error(exc)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert _error(exc)["fields"] == ["CreatedDate"]
    assert _error(exc)["message"].startswith("Unable to create/update fields: CreatedDate. Please check the security")
    # WHEN the permission is switched off THEN describe says not createable and inserts fail
    salesforce_knobs(audit_fields_permission=False)
    created_date = {f["name"]: f for f in sf.Account.describe()["fields"]}["CreatedDate"]
    assert created_date["createable"] is False
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create(historic)
    assert _error(exc)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert _error(exc)["fields"] == ["CreatedDate", "LastModifiedDate"]


# -- Collections ------------------------------------------------------------------------------------------------


def test_collections_create_partial_failure_and_all_or_none(sf: Salesforce) -> None:
    # GIVEN a batch with one invalid record
    records = [
        {"attributes": {"type": "Account"}, "Name": "Coll A"},
        {"attributes": {"type": "Account"}, "BillingCity": "No name"},
        {"attributes": {"type": "Contact"}, "LastName": "Coll C"},
    ]
    # WHEN created without allOrNone THEN valid records are saved and the bad one reports statusCode
    results = _collections(sf, "POST", "composite/sobjects", {"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            }
        ],
    }
    assert results[2]["id"].startswith("003")
    # WHEN created with allOrNone THEN nothing is saved and the valid ones are rolled back
    before = sf.query("SELECT COUNT() FROM Account")["totalSize"]
    results = _collections(sf, "POST", "composite/sobjects", {"allOrNone": True, "records": records})
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == before
    # WHEN more than 200 records are sent THEN the whole call is refused
    with pytest.raises(SalesforceMalformedRequest) as exc:
        _collections(sf, "POST", "composite/sobjects", {"records": [records[0]] * 201})
    assert _error(exc)["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collections_upsert_update_retrieve_delete(sf: Salesforce, salesforce_schema: None) -> None:
    # GIVEN one existing account by external id
    sf.Account.upsert("Sercom_Id__c/COL-1", {"Name": "Existing"})
    batch = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Account"}, "Sercom_Id__c": "COL-1", "Name": "Updated"},
            {"attributes": {"type": "Account"}, "Sercom_Id__c": "COL-2", "Name": "Inserted"},
            {"attributes": {"type": "Account"}, "Sercom_Id__c": "COL-3", "Name": "x" * 256},
        ],
    }
    # WHEN upserted as a collection
    results = _collections(sf, "PATCH", "composite/sobjects/Account/Sercom_Id__c", batch)
    # THEN created flags and per-record errors are reported in order
    assert [(r["success"], r.get("created")) for r in results] == [(True, False), (True, True), (False, None)]
    assert results[2]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    ids = [results[0]["id"], results[1]["id"]]
    # WHEN updated by Id, retrieved and deleted
    updated = _collections(
        sf,
        "PATCH",
        "composite/sobjects",
        {
            "records": [
                {"attributes": {"type": "Account"}, "Id": ids[0], "Phone": "+33 1 23"},
                {"attributes": {"type": "Account"}, "Phone": "no id"},
            ]
        },
    )
    assert updated[0]["success"] and updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    missing = "001000000000000AAA"
    fetched = sf.restful(
        "composite/sobjects/Account", params={"ids": ",".join([*ids, missing]), "fields": "Name,Phone"}
    )
    assert [r and r["Name"] for r in fetched] == ["Updated", "Inserted", None]
    assert fetched[0]["Phone"] == "+33 1 23"
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join([*ids, ids[0]])})
    # THEN deleting the same id twice reports ENTITY_IS_DELETED for the second
    assert [d["success"] for d in deleted] == [True, True, False]
    assert deleted[2]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


# -- Bulk 2.0 ---------------------------------------------------------------------------------------------------


def test_bulk2_upsert_with_results(sf: Salesforce, salesforce_schema: None) -> None:
    # GIVEN 300 accounts of which one lacks its Name and one has a bad date-free bad revenue
    records = [{"Name": f"Bulk {i}", "Sercom_Id__c": f"BK-{i}", "AnnualRevenue": str(i * 10)} for i in range(300)]
    records[5]["Name"] = ""
    records[7]["AnnualRevenue"] = "lots"
    # WHEN upserted through Bulk 2.0
    result = sf.bulk2.Account.upsert(records=records, external_id_field="Sercom_Id__c", wait=0.1)
    # THEN counts, successful and failed result CSVs match
    assert result[0]["numberRecordsProcessed"] == 300 and result[0]["numberRecordsFailed"] == 2
    job_id = result[0]["job_id"]
    success = _csv_rows(sf.bulk2.Account.get_successful_records(job_id))
    failed = {r["Sercom_Id__c"]: r for r in _csv_rows(sf.bulk2.Account.get_failed_records(job_id))}
    assert len(success) == 298 and all(r["sf__Created"] == "true" and r["sf__Id"].startswith("001") for r in success)
    assert failed["BK-5"]["sf__Error"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    assert failed["BK-7"]["sf__Error"].startswith("Failed to deserialize field at col ")
    assert "'lots' is not a valid value for the type xsd:double" in failed["BK-7"]["sf__Error"]
    assert _csv_rows(sf.bulk2.Account.get_unprocessed_records(job_id)) == []
    # WHEN run again THEN the rows update (sf__Created false); contacts link by parent external id
    again = sf.bulk2.Account.upsert(records=records[:3], external_id_field="Sercom_Id__c", wait=0.1)
    assert {r["sf__Created"] for r in _csv_rows(sf.bulk2.Account.get_successful_records(again[0]["job_id"]))} == {
        "false"
    }
    contacts = sf.bulk2.Contact.insert(
        records=[
            {"LastName": "Kid", "Account.Sercom_Id__c": "BK-1"},
            {"LastName": "Lost", "Account.Sercom_Id__c": "NOPE"},
        ],
        wait=0.1,
    )
    assert contacts[0]["numberRecordsFailed"] == 1
    kid = sf.query("SELECT Account.Sercom_Id__c FROM Contact WHERE LastName = 'Kid'")["records"][0]
    assert kid["Account"]["Sercom_Id__c"] == "BK-1"


def test_bulk2_unknown_column_fails_the_job(sf: Salesforce, salesforce_admin: httpx.Client) -> None:
    # GIVEN a CSV with a column the object does not have
    # WHEN loaded THEN the job is Failed with the Bulk error text and the rows are unprocessed
    with pytest.raises(SalesforceOperationError, match="InvalidBatch : Field name not found : Nope__c"):
        sf.bulk2.Account.insert(records=[{"Name": "x", "Nope__c": "y"}], wait=0.1)
    jobs = salesforce_admin.get("/services/data/v60.0/jobs/ingest").json()["records"]
    failed = [j for j in jobs if j["state"] == "Failed"][-1]
    unprocessed = salesforce_admin.get(f"/services/data/v60.0/jobs/ingest/{failed['id']}/unprocessedrecords/")
    assert unprocessed.headers["content-type"].startswith("text/csv") and len(_csv_rows(unprocessed.text)) == 1


def test_bulk2_job_lifecycle_on_the_wire(salesforce_admin: httpx.Client) -> None:
    base = "/services/data/v60.0/jobs/ingest"
    # GIVEN an upsert job without externalIdFieldName THEN it is refused
    assert salesforce_admin.post(base, json={"object": "Account", "operation": "upsert"}).status_code == 400
    # WHEN an insert job is created, uploaded once, and closed
    job = salesforce_admin.post(base, json={"object": "Account", "operation": "insert", "lineEnding": "LF"}).json()
    assert job["state"] == "Open" and job["contentUrl"].endswith(f"/jobs/ingest/{job['id']}/batches")
    upload = salesforce_admin.put(
        f"{base}/{job['id']}/batches", content=b"Name\nLifecycle\n", headers={"Content-Type": "text/csv"}
    )
    assert upload.status_code == 201 and upload.content == b""
    second = salesforce_admin.put(
        f"{base}/{job['id']}/batches", content=b"Name\nAgain\n", headers={"Content-Type": "text/csv"}
    )
    assert second.status_code >= 400
    closed = salesforce_admin.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"
    # THEN it completes and can be deleted
    for _ in range(100):
        info = salesforce_admin.get(f"{base}/{job['id']}").json()
        if info["state"] == "JobComplete":
            break
        time.sleep(0.05)
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 1
    assert salesforce_admin.delete(f"{base}/{job['id']}").status_code == 204
    assert salesforce_admin.get(f"{base}/{job['id']}").status_code == 404


def test_bulk_batch_quota_exhaustion_fails_the_job(
    sf: Salesforce, salesforce_admin: httpx.Client, salesforce_knobs: Any
) -> None:
    # GIVEN a daily batch quota that is already used up
    used = salesforce_admin.get("/__standin/stats").json()["bulk_batches"]
    salesforce_knobs(bulk_daily_batches=used)
    # WHEN a job runs THEN it fails with the quota message
    with pytest.raises(SalesforceOperationError, match="batch limit exceeded"):
        sf.bulk2.Account.insert(records=[{"Name": "Over quota"}], wait=0.1)
    assert sf.limits()["DailyBulkApiBatches"] == {"Max": used, "Remaining": 0}


# -- Query ------------------------------------------------------------------------------------------------------


def test_query_paging_count_and_filters(sf: Salesforce) -> None:
    # GIVEN 4,500 contacts loaded through Bulk
    rows = [{"LastName": f"Page{i:05d}", "Title": "Pager" if i % 2 else "Other"} for i in range(4500)]
    sf.bulk2.Contact.insert(records=rows, wait=0.1)
    # WHEN queried THEN the first page has 2,000 rows and a path-shaped nextRecordsUrl
    first = sf.query("SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Page%' ORDER BY LastName")
    assert len(first["records"]) == 2000 and first["done"] is False and first["totalSize"] == 4500
    assert first["nextRecordsUrl"].startswith("/services/data/v60.0/query/") and first["nextRecordsUrl"].endswith(
        "-2000"
    )
    # AND query_all follows the cursor to the end in order
    everything = sf.query_all("SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Page%' ORDER BY LastName DESC")
    names = [r["LastName"] for r in everything["records"]]
    assert len(names) == 4500 and names[0] == "Page04499" and names == sorted(names, reverse=True)
    # AND COUNT(), IN, NOT, LIMIT/OFFSET work
    assert sf.query("SELECT COUNT() FROM Contact WHERE Title = 'Pager' AND LastName LIKE 'Page%'") == {
        "totalSize": 2250,
        "done": True,
        "records": [],
    }
    picked = sf.query(
        "SELECT LastName FROM Contact WHERE LastName IN ('Page00001', 'Page00002') "
        "AND NOT (Title = 'Other') ORDER BY LastName LIMIT 5 OFFSET 0"
    )
    assert [r["LastName"] for r in picked["records"]] == ["Page00001"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FRM Contact")
    assert _error(exc)["errorCode"] == "MALFORMED_QUERY"


def test_query_locators_page_from_the_store_and_unknown_ones_are_refused(sf: Salesforce) -> None:
    # GIVEN the 4,500 contacts of the paging test (loaded there when it ran first, here otherwise)
    soql = "SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Page%'"
    if sf.query(soql.replace("Id, LastName", "COUNT()"))["totalSize"] < 4500:
        sf.bulk2.Contact.insert(records=[{"LastName": f"Page{i:05d}"} for i in range(4500)], wait=0.1)
    # WHEN simple-salesforce iterates a query lazily with a smaller batch size
    headers = {"Sforce-Query-Options": "batchSize=1000"}
    first = sf.query(soql, headers=headers)
    rows = list(sf.query_all_iter(soql, headers=headers))
    # THEN every record comes once, in store order, over pages of 1,000
    assert len(first["records"]) == 1000 and first["nextRecordsUrl"].endswith("-1000")
    assert len(rows) == first["totalSize"] and len({r["Id"] for r in rows}) == len(rows)
    # AND a page asked again, or out of sequence, is the same slice
    again = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True, headers=headers)
    assert [r["Id"] for r in again["records"]] == [r["Id"] for r in rows[1000:2000]]
    jump = sf.query_more(first["nextRecordsUrl"].replace("-1000", "-3500"), identifier_is_url=True, headers=headers)
    assert [r["Id"] for r in jump["records"]] == [r["Id"] for r in rows[3500:4500]]
    # AND an unknown locator is INVALID_QUERY_LOCATOR
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query_more("/services/data/v60.0/query/01gNOTAREALONE-2000", identifier_is_url=True)
    assert _error(exc)["errorCode"] == "INVALID_QUERY_LOCATOR"


# -- Files ------------------------------------------------------------------------------------------------------


def test_content_version_links_to_its_record(sf: Salesforce) -> None:
    # GIVEN an account and a file published to it
    account = sf.Account.create({"Name": "Has files"})["id"]
    payload = b"hello from sercom"
    version = sf.ContentVersion.create(
        {
            "Title": "Report",
            "PathOnClient": "report.txt",
            "VersionData": base64.b64encode(payload).decode(),
            "FirstPublishLocationId": account,
        }
    )["id"]
    # THEN a ContentDocument exists and is linked to the account
    fields = "ContentDocumentId, ContentSize, FileExtension, VersionData"
    cv = sf.query(f"SELECT {fields} FROM ContentVersion WHERE Id = '{version}'")["records"][0]
    assert cv["ContentSize"] == len(payload) and cv["FileExtension"] == "txt"
    links = sf.query(f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{account}'")
    assert [link["ContentDocumentId"] for link in links["records"]] == [cv["ContentDocumentId"]]
    # AND the bytes come back from the VersionData URL
    raw = sf.session.get(
        sf.base_url.rstrip("/").rsplit("/services", 1)[0] + cv["VersionData"],
        headers={"Authorization": f"Bearer {sf.session_id}"},
    )
    assert raw.content == payload
    # AND ContentDocumentLink needs an Id filter, as in Salesforce
    with pytest.raises(SalesforceMalformedRequest, match="Implementation restriction"):
        sf.query("SELECT Id FROM ContentDocumentLink")


# -- limits, faults, stats ----------------------------------------------------------------------------------------


def test_limits_and_api_usage_header(sf: Salesforce) -> None:
    # GIVEN any data call WHEN limits are read THEN Max/Remaining and api_usage agree
    limits = sf.limits()
    for name in (
        "DailyApiRequests",
        "DailyBulkApiBatches",
        "DailyBulkV2QueryJobs",
        "DailyBulkV2QueryFileStorageMB",
        "DataStorageMB",
        "FileStorageMB",
    ):
        assert set(limits[name]) == {"Max", "Remaining"}
    assert limits["DailyApiRequests"]["Max"] == 100_000 and limits["DailyBulkApiBatches"]["Max"] == 15_000
    usage = sf.api_usage["api-usage"]
    assert usage.total == 100_000 and usage.used == 100_000 - limits["DailyApiRequests"]["Remaining"]


def test_request_limit_exceeded(sf: Salesforce, salesforce_admin: httpx.Client, salesforce_knobs: Any) -> None:
    # GIVEN a daily API limit that is already reached
    used = salesforce_admin.get("/__standin/stats").json()["api_usage"]
    salesforce_knobs(api_daily_limit=used)
    # WHEN a data call is made THEN 403 REQUEST_LIMIT_EXCEEDED, while the admin API keeps working
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert _error(exc) == {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    assert salesforce_admin.get("/__standin/stats").status_code == 200


def test_injected_faults(sf: Salesforce, salesforce_admin: httpx.Client, salesforce_knobs: Any) -> None:
    # GIVEN every call fails with a 5xx
    salesforce_knobs(fault_5xx_rate=1.0)
    with pytest.raises(SalesforceGeneralError) as exc:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert exc.value.status == 500 and _error(exc)["errorCode"] == "UNKNOWN_EXCEPTION"
    # GIVEN every call is throttled THEN 403 with Retry-After
    salesforce_knobs(fault_5xx_rate=0.0, fault_limit_rate=1.0)
    throttled = salesforce_admin.get("/services/data/v60.0/limits")
    assert throttled.status_code == 403 and throttled.headers["Retry-After"]
    assert throttled.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    # GIVEN every record lock fails THEN collection records fail with UNABLE_TO_LOCK_ROW
    salesforce_knobs(fault_limit_rate=0.0, fault_lock_row_rate=1.0)
    results = _collections(
        sf, "POST", "composite/sobjects", {"records": [{"attributes": {"type": "Account"}, "Name": "L"}]}
    )
    assert results[0]["errors"][0] == {
        "statusCode": "UNABLE_TO_LOCK_ROW",
        "message": "unable to obtain exclusive access to this record",
        "fields": [],
    }

    # GIVEN a seeded 50 % fault rate THEN the same seed gives the same outcomes
    def outcomes() -> list[int]:
        return [salesforce_admin.get("/services/data/v60.0/limits").status_code for _ in range(12)]

    salesforce_knobs(fault_lock_row_rate=0.0, fault_5xx_rate=0.5, fault_seed=99)
    first = outcomes()
    salesforce_knobs(fault_seed=100)
    salesforce_knobs(fault_seed=99)
    assert outcomes() == first and set(first) == {200, 500}


def test_stats_count_api_calls_by_category(sf: Salesforce, salesforce_admin: httpx.Client) -> None:
    # GIVEN the current counters WHEN one call of each kind is made THEN each category moves by one
    before = salesforce_admin.get("/__standin/stats").json()
    sf.query("SELECT Id FROM Account LIMIT 1")
    sf.Account.describe()
    sf.limits()
    after = salesforce_admin.get("/__standin/stats").json()
    assert (
        after["query"] - before["query"],
        after["describe"] - before["describe"],
        after["limits"] - before["limits"],
    ) == (1, 1, 1)
    assert after["api_usage"] - before["api_usage"] == 3  # /__standin calls are not API usage


# -- persistence ------------------------------------------------------------------------------------------------


def test_state_survives_restart(tmp_path: Path) -> None:
    # GIVEN a stand-in with a custom field and some records
    state = tmp_path / "restart.sqlite"
    first = start_standin("salesforce", ["--state", str(state)])
    try:
        token = salesforce_token(first)
        sf = salesforce_client(first, token)
        _field(sf, "Account.Ext__c", label="Ext", type="Text", length=10, externalId=True, unique=True)
        sf.Account.upsert("Ext__c/E1", {"Name": "Persistent"})
        sf.Contact.create({"LastName": "Kept", "Account": {"Ext__c": "E1"}})
        sf.session.close()  # no idle keep-alive connection for the graceful shutdown to wait on
    finally:
        first.stop()
    before = snapshot(state)
    # WHEN served again from the same file
    second = start_standin("salesforce", ["--state", str(state)])
    try:
        sf = salesforce_client(second, token)  # tokens persist too
        # THEN identity, schema and records are unchanged and usable
        assert second.info["credentials"] == first.info["credentials"]
        kept = sf.query("SELECT LastName, Account.Ext__c FROM Contact")["records"][0]
        assert kept["Account"]["Ext__c"] == "E1"
        assert sf.Account.upsert("Ext__c/E1", {"Name": "Persistent"}) == 200
        after = snapshot(state)
        sf.session.close()
    finally:
        second.stop()
    assert before["records"]["Contact"] == after["records"]["Contact"]
    assert before["schema"] == after["schema"] and before["org_id"] == after["org_id"]
    assert set(before["records"]["Account"]) == set(after["records"]["Account"])
