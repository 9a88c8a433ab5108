"""The Odoo stand-in driven with ``xmlrpc.client``, ``odoorpc`` and plain httpx (JSON-2) over real HTTPS.

One stand-in process per Odoo version (started on first use by ``odoo_standins``); tests where
the version matters are parametrized over 17, 18 and 19. Tests that change knobs restore them
through ``odoo_knobs``. Every refusal is checked with the fault code and text Odoo gives.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import urllib.request
import xmlrpc.client
from collections.abc import Iterator
from http.cookiejar import CookieJar
from typing import Any

import httpx
import odoorpc
import pytest

from sandbox.serve import RunningStandin

VERSIONS = (17, 18, 19)


class Odoo:
    """An XML-RPC session as Odoo's external API docs write it: db, uid, password on every call."""

    def __init__(self, standin: RunningStandin, *, allow_none: bool = False) -> None:
        self.standin = standin
        creds = standin.info["credentials"]
        self.db, self.password = creds["db"], creds["password"]
        self.context = ssl.create_default_context(cafile=standin.ca_path)
        self.common = xmlrpc.client.ServerProxy(f"{standin.url}/xmlrpc/2/common", context=self.context)
        self.object = xmlrpc.client.ServerProxy(f"{standin.url}/xmlrpc/2/object", context=self.context,
                                                allow_none=allow_none)
        self.uid = self.common.authenticate(self.db, "admin", self.password, {})

    def __call__(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.object.execute_kw(self.db, self.uid, self.password, model, method, list(args), kwargs)

    def close(self) -> None:
        """Close the keep-alive connections (or the server's graceful shutdown waits for them)."""
        self.common("close")()
        self.object("close")()

    def fault(self, model: str, method: str, *args: Any, **kwargs: Any) -> xmlrpc.client.Fault:
        with pytest.raises(xmlrpc.client.Fault) as caught:
            self(model, method, *args, **kwargs)
        return caught.value


def last_line(fault: xmlrpc.client.Fault) -> str:
    """The exception line of a fault-1 traceback."""
    return str(fault.faultString).strip().splitlines()[-1]


def json2(standin: RunningStandin, key: str | None = None) -> httpx.Client:
    creds = standin.info["credentials"]
    return httpx.Client(base_url=standin.url, verify=standin.ca_path, timeout=30, headers={
        "Authorization": f"bearer {key or creds['api_key']}", "X-Odoo-Database": creds["db"]})


def odoorpc_session(standin: RunningStandin) -> odoorpc.ODOO:
    """odoorpc over HTTPS: its ``opener`` parameter takes a urllib opener trusting the stand-in's CA."""
    context = ssl.create_default_context(cafile=standin.ca_path)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                         urllib.request.HTTPCookieProcessor(CookieJar()))
    port = int(standin.url.rsplit(":", 1)[1])
    odoo = odoorpc.ODOO("127.0.0.1", protocol="jsonrpc+ssl", port=port, opener=opener)
    creds = standin.info["credentials"]
    odoo.login(creds["db"], "admin", creds["password"])
    return odoo


@pytest.fixture(scope="module")
def o17(odoo_standins: Any) -> Iterator[Odoo]:
    client = Odoo(odoo_standins(17))
    yield client
    client.close()


@pytest.fixture(scope="module")
def o19(odoo_standins: Any) -> Iterator[Odoo]:
    client = Odoo(odoo_standins(19))
    yield client
    client.close()


@pytest.fixture(params=VERSIONS, ids=[f"v{v}" for v in VERSIONS])
def odoo(request: pytest.FixtureRequest, odoo_standins: Any) -> Iterator[Odoo]:
    client = Odoo(odoo_standins(request.param))
    yield client
    client.close()


# -- start-up and authentication ------------------------------------------------------------------------------------


def test_serve_announces_one_json_line(odoo_standins: Any) -> None:
    info = odoo_standins(17).info
    assert info["kind"] == "odoo" and info["version"] == "17.0" and info["url"].startswith("https://127.0.0.1:")
    assert set(info["credentials"]) == {"db", "login", "password", "api_key"}


def test_version_authenticate_and_access_denied(odoo: Odoo) -> None:
    version = odoo.common.version()
    major = version["server_version_info"][0]
    assert version == {"server_version": f"{major}.0", "server_version_info": [major, 0, 0, "final", 0, ""],
                       "server_serie": f"{major}.0", "protocol_version": 1}
    # GIVEN the admin's password or API key WHEN authenticating THEN the uid comes back; a wrong one is False
    assert odoo.uid == 2
    assert odoo.common.login(odoo.db, "admin", odoo.standin.info["credentials"]["api_key"]) == 2
    assert odoo.common.authenticate(odoo.db, "admin", "wrong", {}) is False
    assert odoo.common.authenticate(odoo.db, "ada@example.com", "ada-pw", {}) > 2
    assert odoo.common.authenticate(odoo.db, "old@example.com", "old-pw", {}) is False  # archived user
    # WHEN an object call carries a bad password THEN fault 3 "Access Denied"
    with pytest.raises(xmlrpc.client.Fault) as caught:
        odoo.object.execute_kw(odoo.db, 2, "wrong", "res.partner", "search", [[]])
    assert (caught.value.faultCode, caught.value.faultString) == (3, "Access Denied")
    # WHEN the database does not exist THEN psycopg2's error arrives as fault 1
    with pytest.raises(xmlrpc.client.Fault) as caught:
        odoo.object.execute_kw("nope", 2, odoo.password, "res.partner", "search", [[]])
    assert caught.value.faultCode == 1 and 'database "nope" does not exist' in caught.value.faultString
    with pytest.raises(xmlrpc.client.Fault) as caught:
        odoo.object.unknown_service_method()
    assert "NameError: Method not available unknown_service_method" in caught.value.faultString


# -- ORM shapes -----------------------------------------------------------------------------------------------------


def test_create_one_or_many_read_false_not_none_and_execute(odoo: Odoo) -> None:
    one = odoo("res.partner", "create", {"name": "Shape One"})
    many = odoo("res.partner", "create", [{"name": "Shape Two"}, {"name": "Shape Three", "phone": "555"}])
    assert isinstance(one, int) and isinstance(many, list) and len(many) == 2
    row = odoo("res.partner", "read", [one], fields=["name", "email", "parent_id", "is_company", "category_id"])[0]
    assert row == {"id": one, "name": "Shape One", "email": False, "parent_id": False, "is_company": False,
                   "category_id": []}
    assert odoo.object.execute(odoo.db, odoo.uid, odoo.password, "res.partner", "search_count",
                               [["name", "like", "Shape"]]) == 3
    assert odoo("res.partner", "write", many, {"phone": "777"}) is True
    assert {r["phone"] for r in odoo("res.partner", "read", many, ["phone"])} == {"777"}
    assert odoo("res.partner", "unlink", [many[0]]) is True
    fault = odoo.fault("res.partner", "read", [many[0]], ["name"])
    assert fault.faultCode == 2 and fault.faultString.startswith("Record does not exist or has been deleted.")


def test_none_cannot_travel_over_xmlrpc(odoo_standins: Any) -> None:
    standin = odoo_standins(17)
    strict = Odoo(standin)
    # GIVEN the client's default marshaller WHEN a value is None THEN it refuses before sending
    with pytest.raises(TypeError, match="cannot marshal None"):
        strict("res.partner", "create", {"name": "N", "email": None})
    # GIVEN a client that sends <nil/> THEN the server takes it as False
    lax = Odoo(standin, allow_none=True)
    pid = lax("res.partner", "create", {"name": "Nil Email", "email": None})
    assert lax("res.partner", "read", [pid], ["email"])[0]["email"] is False
    # WHEN a method returns None (action_archive on 17) THEN the server cannot marshal it: fault 1
    fault = strict.fault("res.partner", "action_archive", [pid])
    assert fault.faultCode == 1 and "cannot marshal None unless allow_none is enabled" in fault.faultString
    assert strict("res.partner", "search", [["id", "=", pid]]) == []  # archived all the same (committed first)


def test_many2one_pairs_and_classic_write(o17: Odoo) -> None:
    company = o17("res.partner", "create", {"name": "M2O Co", "is_company": True})
    person = o17("res.partner", "create", {"name": "Pat", "parent_id": company})
    assert o17("res.partner", "read", [person], ["parent_id"])[0]["parent_id"] == [company, "M2O Co"]
    assert o17("res.partner", "read", [person], ["parent_id"], load="_classic_write")[0]["parent_id"] == company
    fault = o17.fault("res.partner", "write", [person], {"parent_id": [company, "M2O Co"]})
    assert last_line(fault) == f"ValueError: Wrong value for res.partner.parent_id: [{company}, 'M2O Co']"
    fault = o17.fault("res.partner", "write", [person], {"parent_id": 999999})
    assert fault.faultCode == 2 and "Constraint: res_partner_parent_id_fkey" in fault.faultString


def test_log_access_fields_are_silently_stripped(o17: Odoo) -> None:
    pid = o17("res.partner", "create", {"name": "Old Record", "create_date": "2001-02-03 04:05:06",
                                        "write_date": "2001-02-03 04:05:06", "create_uid": 1, "write_uid": 1})
    row = o17("res.partner", "read", [pid], ["create_date", "write_date", "create_uid"])[0]
    assert not row["create_date"].startswith("2001") and not row["write_date"].startswith("2001")
    assert row["create_uid"][0] == 2
    assert o17("res.partner", "write", [pid], {"create_date": "2001-02-03 04:05:06", "name": "Still"}) is True
    assert not o17("res.partner", "read", [pid], ["create_date"])[0]["create_date"].startswith("2001")


def test_unknown_fields_are_refused_everywhere(o17: Odoo, o19: Odoo) -> None:
    assert last_line(o17.fault("res.partner", "create", {"name": "X", "nope": 1})) == \
        "ValueError: Invalid field 'nope' on model 'res.partner'"
    assert last_line(o17.fault("res.partner", "search_read", [], fields=["nope"])) == \
        "ValueError: Invalid field 'nope' on model 'res.partner'"
    assert last_line(o17.fault("res.partner", "search", [["nope", "=", 1]])) == \
        "ValueError: Invalid field res.partner.nope in leaf ('nope', '=', 1)"
    assert last_line(o19.fault("res.partner", "search", [["nope", "=", 1]])) == \
        "ValueError: Invalid field res.partner.nope in condition ('nope', '=', 1)"
    assert 'Invalid "order" specified (nope desc)' in last_line(o17.fault("res.partner", "search", [],
                                                                            order="nope desc"))
    assert last_line(o17.fault("res.partner", "search", [["name", "~", "x"]])) == \
        "ValueError: Invalid leaf ('name', '~', 'x')"
    assert last_line(o19.fault("res.partner", "search", [["name", "~", "x"]])) == \
        "ValueError: Invalid operator in condition ('name', '~', 'x')"
    assert last_line(o19.fault("res.partner", "search", [["name", "="]])) == \
        "ValueError: Domain() invalid item in domain: ['name', '=']"
    # a computed field without a search method: Odoo logs an error and drops the condition (matches everything)
    assert o17("res.partner", "search_count", [["company_type", "=", "nothing-matches-this"]]) == \
        o17("res.partner", "search_count", [])
    fault = o17.fault("res.partner", "frobnicate", [])
    assert last_line(fault) == "AttributeError: type object 'res.partner' has no attribute 'frobnicate'"
    assert last_line(o19.fault("res.partner", "frobnicate", [])) == \
        "AttributeError: The method 'res.partner.frobnicate' does not exist"
    fault = o17.fault("res.partner", "_private", [])
    assert (fault.faultCode, fault.faultString) == (4, "Private methods (such as _private) cannot be called remotely.")
    assert o19.fault("res.partner", "_private", []).faultString == \
        "Private methods (such as 'res.partner._private') cannot be called remotely."
    assert (o17.fault("no.such.model", "search", []).faultString) == "Object no.such.model doesn't exist"


def test_domain_operators_and_polish_notation(odoo: Odoo) -> None:
    names = ["Dom Alpha", "Dom beta", "Dom Gamma", "Dom Delta"]
    ids = odoo("res.partner", "create", [{"name": n, "ref": str(i), "phone": f"0{i}" if i % 2 else False}
                                         for i, n in enumerate(names)])
    base = ["name", "=like", "Dom %"]

    def names_of(*domain: Any) -> list[str]:
        found = odoo("res.partner", "search_read", [base, *domain], fields=["name"], order="name asc")
        return [r["name"] for r in found]

    assert names_of(["name", "=", "Dom beta"]) == ["Dom beta"]
    assert names_of(["name", "!=", "Dom beta"]) == ["Dom Alpha", "Dom Delta", "Dom Gamma"]
    assert names_of(["id", "in", ids[:2]]) == ["Dom Alpha", "Dom beta"]
    assert names_of(["id", "not in", ids[:2]]) == ["Dom Delta", "Dom Gamma"]
    assert names_of(["name", "like", "eta"]) == ["Dom beta"]
    assert names_of(["name", "like", "BETA"]) == []
    assert names_of(["name", "ilike", "BETA"]) == ["Dom beta"]
    assert names_of(["name", "=ilike", "dom _eta"]) == ["Dom beta"]
    assert names_of(["ref", ">", "1"]) == ["Dom Delta", "Dom Gamma"]
    assert names_of(["ref", "<", "1"]) == ["Dom Alpha"]
    assert names_of(["ref", ">=", "2"]) == ["Dom Delta", "Dom Gamma"]
    assert names_of(["ref", "<=", "0"]) == ["Dom Alpha"]
    assert names_of(["phone", "=", False]) == ["Dom Alpha", "Dom Gamma"]
    assert names_of("|", ["ref", "=", "0"], ["ref", "=", "3"]) == ["Dom Alpha", "Dom Delta"]
    assert names_of("!", ["ref", "in", ["0", "1", "2"]]) == ["Dom Delta"]
    assert names_of("&", ["phone", "!=", False], "|", ["ref", "=", "1"], ["ref", "=", "2"]) == ["Dom beta"]
    company = odoo("res.partner", "create", {"name": "Dom Co", "is_company": True})
    child = odoo("res.partner", "create", {"name": "Dom Kid", "parent_id": company})
    grandchild = odoo("res.partner", "create", {"name": "Dom Grandkid", "parent_id": child})
    assert set(odoo("res.partner", "search", [["id", "child_of", company]])) == {company, child, grandchild}
    assert odoo("res.partner", "search", [["parent_id.name", "=", "Dom Co"]]) == [child]
    assert odoo("res.partner", "search", [["parent_id", "any", [["name", "=", "Dom Kid"]]]]) == [grandchild]
    assert company in odoo("res.partner", "search", [["child_ids", "not any", [["name", "=", "Nobody"]]]])
    assert odoo("res.partner", "search_count", [base]) == 7


def test_search_read_paging_order_count_and_active_test(o17: Odoo) -> None:
    ids = o17("res.partner", "create", [{"name": f"Page {i:02d}", "ref": "page"} for i in range(7)])
    page = o17("res.partner", "search_read", [["ref", "=", "page"]], fields=["name"], limit=3, offset=2,
               order="name desc")
    assert [r["name"] for r in page] == ["Page 04", "Page 03", "Page 02"]
    assert set(page[0]) == {"id", "name"}
    assert o17("res.partner", "search", [["ref", "=", "page"]], limit=2, order="id asc") == ids[:2]
    assert o17("res.partner", "search_count", [["ref", "=", "page"]]) == 7
    o17("res.partner", "write", ids[:2], {"active": False})
    assert o17("res.partner", "search_count", [["ref", "=", "page"]]) == 5
    assert o17("res.partner", "search_count", [["ref", "=", "page"]], context={"active_test": False}) == 7
    assert o17("res.partner", "search_count", [["ref", "=", "page"], ["active", "=", False]]) == 2


def test_x2many_commands(o17: Odoo) -> None:
    lead = o17("crm.lead", "create", {"name": "Tags", "tag_ids": [(0, 0, {"name": "hot"}), (0, 0, {"name": "b2b"})]})
    hot, b2b = o17("crm.lead", "read", [lead], ["tag_ids"])[0]["tag_ids"]
    spare = o17("crm.tag", "create", {"name": "spare"})

    def tags() -> list[int]:
        return list(o17("crm.lead", "read", [lead], ["tag_ids"])[0]["tag_ids"])

    o17("crm.lead", "write", [lead], {"tag_ids": [(4, spare)]})
    assert tags() == [hot, b2b, spare]
    o17("crm.lead", "write", [lead], {"tag_ids": [(3, hot)]})
    assert tags() == [b2b, spare]
    o17("crm.lead", "write", [lead], {"tag_ids": [(6, 0, [hot])]})
    assert tags() == [hot]
    o17("crm.lead", "write", [lead], {"tag_ids": [(5,)]})
    assert tags() == [] and o17("crm.tag", "search_count", [["id", "=", hot]]) == 1  # unlinked, not deleted
    company = o17("res.partner", "create", {"name": "O2M Co", "is_company": True,
                                            "child_ids": [(0, 0, {"name": "First Kid"})]})
    loose = o17("res.partner", "create", {"name": "Loose"})
    o17("res.partner", "write", [company], {"child_ids": [(4, loose)]})
    kids = o17("res.partner", "read", [company], ["child_ids"])[0]["child_ids"]
    assert len(kids) == 2 and loose in kids
    o17("res.partner", "write", [company], {"child_ids": [(3, loose)]})
    assert o17("res.partner", "read", [loose], ["parent_id"])[0]["parent_id"] is False
    fault = o17.fault("crm.lead", "write", [lead], {"tag_ids": [(4, 999999)]})
    assert fault.faultCode == 2


def test_fields_get_and_name_search(odoo: Odoo) -> None:
    described = odoo("crm.lead", "fields_get", attributes=["string", "type", "required", "selection", "relation"])
    assert described["priority"] == {"string": "Priority", "type": "selection", "required": False,
                                     "selection": [["0", "Low"], ["1", "Medium"], ["2", "High"], ["3", "Very High"]]}
    assert described["partner_id"]["relation"] == "res.partner" and described["name"]["required"] is True
    assert "mobile" in odoo("res.partner", "fields_get") or odoo.common.version()["server_version"] == "19.0"
    odoo("res.partner", "create", [{"name": "Needle One"}, {"name": "Needle Two", "is_company": True}])
    major = odoo.common.version()["server_version_info"][0]
    scope = {"args": [["is_company", "=", True]]} if major == 17 else {"domain": [["is_company", "=", True]]}
    found = odoo("res.partner", "name_search", "Needle", **scope)
    assert [name for _, name in found] == ["Needle Two"]
    assert odoo.fault("res.partner", "name_search", "x", nope=1).faultCode == 1


# -- business models ------------------------------------------------------------------------------------------------


def test_partner_rules(o17: Odoo) -> None:
    us = o17("res.country", "search", [["code", "=", "US"]])[0]
    ny = o17("res.country.state", "search", [["code", "=", "NY"], ["country_id", "=", us]])[0]
    company = o17("res.partner", "create", {"name": "Rules Inc", "is_company": True, "street": "1 Main St",
                                            "city": "Albany", "country_id": us, "state_id": ny})
    contact = o17("res.partner", "create", {"name": "Rita", "parent_id": company, "city": "Elsewhere"})
    site = o17("res.partner", "create", {"parent_id": company, "type": "other", "street": "9 Depot Rd"})
    rows = {r["id"]: r for r in o17("res.partner", "read", [contact, site],
                                    ["city", "street", "commercial_partner_id", "display_name", "type"])}
    assert rows[contact]["city"] == "Albany"  # a contact takes its company's address
    assert rows[site]["street"] == "9 Depot Rd" and rows[site]["display_name"] == "Rules Inc, Other Address"
    assert rows[contact]["commercial_partner_id"] == [company, "Rules Inc"]
    assert set(o17("res.partner", "search", [["commercial_partner_id", "=", company]])) == {company, contact, site}
    o17("res.partner", "write", [company], {"city": "Buffalo"})
    assert o17("res.partner", "read", [contact], ["city"])[0]["city"] == "Buffalo"
    fault = o17.fault("res.partner", "create", {"type": "contact", "email": "x@example.com"})
    assert (fault.faultCode, fault.faultString) == (2, "The operation cannot be completed: Contacts require a name")
    fault = o17.fault("res.partner", "write", [company], {"parent_id": contact})
    assert (fault.faultCode, fault.faultString) == (2, "You cannot create recursive Partner hierarchies.")
    assert last_line(o17.fault("res.partner", "create", {"name": "T", "type": "private"})) == \
        "ValueError: Wrong value for res.partner.type: 'private'"


def test_users(o17: Odoo) -> None:
    users = o17("res.users", "search_read", [["login", "in", ["ada@example.com", "old@example.com"]]],
                fields=["login", "email", "active", "share"], context={"active_test": False}, order="login")
    assert [(u["login"], u["active"], u["share"]) for u in users] == [("ada@example.com", True, False),
                                                                    ("old@example.com", False, False)]
    portal = o17("res.users", "search_read", [["email", "=", "portal@example.com"]], fields=["share"])
    assert portal[0]["share"] is True
    uid = o17("res.users", "create", {"name": "Tech One", "login": "tech1@example.com", "email": "tech1@example.com"})
    partner = o17("res.users", "read", [uid], ["partner_id"])[0]["partner_id"]
    assert partner[1] == "Tech One"
    fault = o17.fault("res.users", "create", {"name": "Dup", "login": "tech1@example.com"})
    assert fault.faultCode == 2 and "You can not have two users with the same login !" in fault.faultString
    assert o17("res.users", "context_get")["lang"] == "en_US"


def test_crm_lead_rules(o17: Odoo, odoo_knobs: Any) -> None:
    stages = o17("crm.stage", "search_read", [], fields=["name", "is_won"], order="sequence")
    assert [s["name"] for s in stages] == ["New", "Qualified", "Proposition", "Won"]
    lead = o17("crm.lead", "create", {"name": "Job 1", "priority": "3", "date_deadline": "2025-03-01"})
    row = o17("crm.lead", "read", [lead], ["type", "stage_id", "user_id", "probability", "date_deadline"])[0]
    assert row["type"] == "opportunity" and row["stage_id"][1] == "New" and row["user_id"][0] == 2
    assert row["date_deadline"] == "2025-03-01"
    odoo_knobs(o17.standin, crm_use_leads=True)
    assert o17("crm.lead", "read", [o17("crm.lead", "create", {"name": "L"})], ["type"])[0]["type"] == "lead"
    assert last_line(o17.fault("crm.lead", "write", [lead], {"priority": "5"})) == \
        "ValueError: Wrong value for crm.lead.priority: '5'"
    fault = o17.fault("crm.lead", "write", [lead], {"probability": 150})
    assert fault.faultString == "The operation cannot be completed: The probability of closing the deal should be " \
                                "between 0% and 100%!"
    assert "does not match format" in last_line(o17.fault("crm.lead", "write", [lead],
                                                          {"date_closed": "2025-03-01T10:00:00"}))
    fault = o17.fault("crm.lead", "create", {"type": "lead"})
    assert fault.faultCode == 2 and "Field: Opportunity (name)" in fault.faultString
    o17("crm.lead", "write", [lead], {"stage_id": stages[-1]["id"]})
    won = o17("crm.lead", "read", [lead], ["probability", "date_closed"])[0]
    assert won["probability"] == 100.0 and won["date_closed"]
    o17("crm.lead", "write", [lead], {"active": False})
    assert o17("crm.lead", "search", [["id", "=", lead]]) == []


def test_custom_fields_and_models(odoo: Odoo) -> None:
    lead_model = odoo("ir.model", "search_read", [["model", "=", "crm.lead"]], fields=["id", "state"])[0]
    assert lead_model["state"] == "base"
    status = odoo("ir.model.fields", "create", {
        "model_id": lead_model["id"], "name": "x_sercom_status", "field_description": "Sercom status",
        "ttype": "selection", "state": "manual",
        "selection_ids": [(0, 0, {"value": "open", "name": "Open", "sequence": 1}),
                          (0, 0, {"value": "done", "name": "Done", "sequence": 2})]})
    odoo("ir.model.fields", "create", {"model_id": lead_model["id"], "name": "x_tech_id", "ttype": "many2one",
                                       "relation": "res.users", "field_description": "Technician"})
    assert odoo("ir.model.fields", "read", [status], ["state", "model"])[0] == {"id": status, "state": "manual",
                                                                             "model": "crm.lead"}
    lead = odoo("crm.lead", "create", {"name": "Custom", "x_sercom_status": "open", "x_tech_id": 2})
    row = odoo("crm.lead", "read", [lead], ["x_sercom_status", "x_tech_id"])[0]
    assert row["x_sercom_status"] == "open" and row["x_tech_id"] == [2, "Mitchell Admin"]
    assert odoo("crm.lead", "search", [["x_sercom_status", "=", "open"]]) == [lead]
    assert odoo("crm.lead", "fields_get", ["x_sercom_status"])["x_sercom_status"]["selection"] == [
        ["open", "Open"], ["done", "Done"]]
    legacy = odoo("ir.model.fields", "create", {"model_id": lead_model["id"], "name": "x_legacy", "ttype": "selection",
                                                "selection": "[('a', 'A'), ('b', 'B')]"})
    assert odoo("ir.model.fields.selection", "search_count", [["field_id", "=", legacy]]) == 2
    assert last_line(odoo.fault("crm.lead", "write", [lead], {"x_sercom_status": "nope"})).startswith(
        "ValueError: Wrong value for crm.lead.x_sercom_status")
    fault = odoo.fault("ir.model.fields", "create", {"model_id": lead_model["id"], "name": "sercom_id",
                                                     "ttype": "char", "state": "manual"})
    assert (fault.faultCode, fault.faultString) == (2, "Custom fields must have a name that starts with 'x_'!")
    fault = odoo.fault("ir.model.fields", "create", {"model_id": lead_model["id"], "name": "x_bad", "ttype": "many2one",
                                                     "relation": "no.model"})
    assert fault.faultString == "Model no.model does not exist!"
    fault = odoo.fault("ir.model.fields", "create", {"model_id": lead_model["id"], "name": "x_tech_id",
                                                     "ttype": "char"})
    assert fault.faultString == "The operation cannot be completed: Field names must be unique per model."
    assert last_line(odoo.fault("ir.model.fields", "create", {"model_id": lead_model["id"], "name": "x_t",
                                                              "ttype": "blob"})).startswith("ValueError: Wrong value")
    # a custom model gets x_name, and is a model like any other
    model_id = odoo("ir.model", "create", {"name": "Automation export", "model": "x_automation"})
    record = odoo("x_automation", "create", {"x_name": "rule 1"})
    assert odoo("x_automation", "read", [record], ["x_name", "display_name"])[0]["display_name"] == "rule 1"
    assert odoo("ir.model.fields", "search_count", [["model_id", "=", model_id]]) == 1
    odoo("ir.model", "create", {"name": "Dashboard", "model": "x_dashboard", "is_mail_thread": True})
    board = odoo("x_dashboard", "create", {"x_name": "Migration"})
    assert isinstance(odoo("x_dashboard", "message_post", [board], body="Summary", message_type="comment"), int)
    fault = odoo.fault("ir.model", "create", {"name": "Bad", "model": "automation"})
    assert (fault.faultCode, fault.faultString) == (2, "The model name must start with 'x_'.")
    assert odoo.fault("ir.model.fields", "write", [lead_model["id"]], {"required": True}).faultCode == 2


def test_external_ids(odoo: Odoo) -> None:
    pid = odoo("res.partner", "create", {"name": "By Xmlid"})
    odoo("ir.model.data", "create", {"module": "__flitstack__", "name": "customer_42", "model": "res.partner",
                                     "res_id": pid})
    found = odoo("ir.model.data", "search_read", [["module", "=", "__flitstack__"], ["name", "=", "customer_42"]],
                 fields=["model", "res_id", "complete_name"])
    assert found == [{"id": found[0]["id"], "model": "res.partner", "res_id": pid,
                      "complete_name": "__flitstack__.customer_42"}]
    assert odoo("ir.model.data", "check_object_reference", "__flitstack__", "customer_42") == ["res.partner", pid]
    assert odoo("ir.model.data", "check_object_reference", "base", "us")[0] == "res.country"
    fault = odoo.fault("ir.model.data", "create", {"module": "__flitstack__", "name": "customer_42",
                                                   "model": "res.partner", "res_id": pid})
    assert fault.faultCode == 2 and "ir_model_data_module_name_uniq_index" in fault.faultString
    assert "External ID not found in the system: __flitstack__.nope" in last_line(
        odoo.fault("ir.model.data", "check_object_reference", "__flitstack__", "nope"))
    odoo("res.partner", "unlink", [pid])
    assert odoo("ir.model.data", "search", [["name", "=", "customer_42"]]) == []


def test_message_post_notes(odoo: Odoo, odoo_standins: Any) -> None:
    lead = odoo("crm.lead", "create", {"name": "Chatter"})
    plain = odoo("crm.lead", "message_post", [lead], body="Tech said <ok> & left", message_type="comment",
                 subtype_xmlid="mail.mt_note", author_id=3, date="2020-05-06 07:08:09")
    rich = odoo("crm.lead", "message_post", [lead], body="<p>Done</p>", body_is_html=True, message_type="comment",
                subtype_xmlid="mail.mt_note")
    assert isinstance(plain, int) and isinstance(rich, int)
    rows = {r["id"]: r for r in odoo("mail.message", "read", [plain, rich],
                                     ["body", "subtype_id", "message_type", "model", "res_id", "date", "author_id"])}
    assert rows[plain]["body"] == "Tech said &lt;ok&gt; &amp; left" and rows[rich]["body"] == "<p>Done</p>"
    assert rows[plain]["subtype_id"][1] == "Note" and rows[plain]["message_type"] == "comment"
    assert (rows[plain]["model"], rows[plain]["res_id"], rows[plain]["date"]) == ("crm.lead", lead,
                                                                                  "2020-05-06 07:08:09")
    assert set(odoo("crm.lead", "read", [lead], ["message_ids"])[0]["message_ids"]) == {plain, rich}
    assert "External ID not found" in last_line(odoo.fault("crm.lead", "message_post", [lead], body="x",
                                                           subtype_xmlid="mail.mt_nope"))
    assert last_line(odoo.fault("crm.stage", "message_post", [1], body="x")).startswith("AttributeError:")
    assert last_line(odoo.fault("crm.lead", "message_post", [lead], body="x", res_id=1)) == \
        "ValueError: Those values are not supported when posting or notifying: res_id"


def test_attachments(o17: Odoo, odoo_knobs: Any) -> None:
    lead = o17("crm.lead", "create", {"name": "Files"})
    content = b"%PDF-1.4 job sheet"
    att = o17("ir.attachment", "create", {"name": "sheet.pdf", "datas": base64.b64encode(content).decode(),
                                          "res_model": "crm.lead", "res_id": lead})
    row = o17("ir.attachment", "read", [att], ["datas", "file_size", "mimetype", "res_model", "res_id", "res_name"])[0]
    assert base64.b64decode(row["datas"]) == content and row["file_size"] == len(content)
    assert (row["mimetype"], row["res_model"], row["res_id"], row["res_name"]) == ("application/pdf", "crm.lead",
                                                                                   lead, "Files")
    assert o17("ir.attachment", "search", [["res_model", "=", "crm.lead"], ["res_id", "=", lead]]) == [att]
    assert last_line(o17.fault("ir.attachment", "create", {"name": "bad", "datas": "abc"})).startswith(
        "binascii.Error")
    odoo_knobs(o17.standin, attachment_max_bytes=10)
    fault = o17.fault("ir.attachment", "create", {"name": "big.bin", "datas": base64.b64encode(b"x" * 11).decode()})
    assert fault.faultCode == 2 and "too large" in fault.faultString
    config = odoo_knobs(o17.standin, online=True)
    assert config["online_attachment_max_bytes"] == 115 * 1024 * 1024
    assert o17("ir.attachment", "create", {"name": "ok.bin", "datas": base64.b64encode(b"x" * 11).decode()})


def test_inventory_models_need_the_inventory_knob(o17: Odoo, odoo_knobs: Any) -> None:
    assert o17.fault("stock.picking", "search", []).faultString == "Object stock.picking doesn't exist"
    assert o17("ir.model", "search", [["model", "=", "stock.move.line"]]) == []
    odoo_knobs(o17.standin, inventory_installed=True)
    picking_type = o17("ir.model.data", "check_object_reference", "stock", "picking_type_out")[1]
    product = o17("product.product", "search", [["default_code", "=", "PART-001"]])[0]
    picking = o17("stock.picking", "create", {"picking_type_id": picking_type, "origin": "JOB-1", "move_line_ids": [
        (0, 0, {"product_id": product, "quantity": 2.0}), (0, 0, {"product_id": product, "quantity": 1.5})]})
    row = o17("stock.picking", "read", [picking], ["name", "move_line_ids", "location_id"])[0]
    assert row["name"].startswith("WH/OUT/") and len(row["move_line_ids"]) == 2 and row["location_id"]
    lines = o17("stock.move.line", "read", row["move_line_ids"], ["quantity", "location_dest_id", "product_uom_id"])
    assert {line["quantity"] for line in lines} == {2.0, 1.5} and all(line["product_uom_id"] for line in lines)
    assert o17.fault("stock.move.line", "create", {"quantity": 1}).faultCode == 2  # product_id is required


def test_move_lines_in_a_transfer_get_their_stock_move_and_leave_with_it(o17: Odoo, odoo_knobs: Any) -> None:
    odoo_knobs(o17.standin, inventory_installed=True)
    picking_type = o17("ir.model.data", "check_object_reference", "stock", "picking_type_out")[1]
    units = o17("ir.model.data", "check_object_reference", "uom", "product_uom_unit")[1]
    product = o17("product.product", "create", {"name": "Gasket", "default_code": "GSK-1"})
    assert o17("product.product", "read", [product], ["uom_id", "type"])[0] == {
        "id": product, "uom_id": [units, "Units"], "type": "consu"}  # the default unit, as product.template's
    assert o17.fault("stock.picking", "create", {"origin": "JOB-2"}).faultCode == 2  # picking_type_id is required
    picking = o17("stock.picking", "create", {"picking_type_id": picking_type, "origin": "JOB-2"})
    first, second = (o17("stock.move.line", "create", {"picking_id": picking, "product_id": product, "quantity": q})
                     for q in (2.0, 3.0))
    lines = o17("stock.move.line", "read", [first, second], ["move_id", "state", "location_id"], load="")
    assert lines[0]["move_id"] and lines[0]["move_id"] == lines[1]["move_id"]  # one move per product
    assert {line["state"] for line in lines} == {"draft"} and lines[0]["location_id"]
    move = o17("stock.move", "read", [lines[0]["move_id"]], ["name", "picking_id", "product_uom", "origin"])[0]
    assert (move["name"], move["picking_id"][0], move["product_uom"][0], move["origin"]) == (
        "Gasket", picking, units, "JOB-2")
    assert o17.fault("stock.move", "create", {"product_id": product, "product_uom": units}).faultCode == 2
    o17("stock.picking", "unlink", [picking])  # ondelete cascade: the moves and lines go with their transfer
    assert o17("stock.move.line", "search", [["id", "in", [first, second]]]) == []
    assert o17("stock.move", "search", [["id", "=", move["id"]]]) == []


# -- limits and faults ----------------------------------------------------------------------------------------------


def test_limit_time_real_kills_and_rolls_back(o17: Odoo, odoo_knobs: Any) -> None:
    odoo_knobs(o17.standin, limit_time_real_s=0.3, fault_slow_rate=1.0, fault_slow_s=2.0)
    with pytest.raises((ConnectionError, http.client.HTTPException, xmlrpc.client.ProtocolError)):
        o17("res.partner", "create", [{"name": "Killed Batch"} for _ in range(5)])
    odoo_knobs(o17.standin, killed_response="502")
    with pytest.raises(xmlrpc.client.ProtocolError) as caught:
        o17("res.partner", "create", {"name": "Killed Single"})
    assert caught.value.errcode == 502
    odoo_knobs(o17.standin, fault_slow_rate=0.0)
    assert o17("res.partner", "search", [["name", "like", "Killed"]]) == []  # nothing of either call persisted
    odoo_knobs(o17.standin, limit_time_real_s=5.0, fault_slow_rate=1.0, fault_slow_s=0.1)
    assert o17("res.partner", "create", {"name": "Slow But Fine"})


def test_injected_5xx_and_dropped_connections(o17: Odoo, odoo_knobs: Any) -> None:
    odoo_knobs(o17.standin, fault_5xx_rate=1.0)
    with pytest.raises(xmlrpc.client.ProtocolError) as caught:
        o17("res.partner", "create", {"name": "Faulted 5xx"})
    assert caught.value.errcode == 503
    odoo_knobs(o17.standin, fault_5xx_rate=0.0, fault_drop_rate=1.0)
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        o17("res.partner", "create", {"name": "Faulted drop"})
    odoo_knobs(o17.standin, fault_drop_rate=0.0)
    assert o17("res.partner", "search", [["name", "like", "Faulted"]]) == []


def test_online_needs_the_custom_plan(odoo_standins: Any, odoo_knobs: Any) -> None:
    standin = odoo_standins(19)
    client = Odoo(standin)
    odoo_knobs(standin, online=True, online_plan="standard")
    with pytest.raises(xmlrpc.client.Fault) as caught:
        client.common.authenticate(client.db, "admin", client.password, {})
    assert caught.value.faultCode == 3
    assert client.fault("res.partner", "search", []).faultCode == 3
    with json2(standin) as http19:
        response = http19.post("/json/2/res.partner/search", json={"domain": []})
    assert response.status_code == 403 and response.json()["name"] == "odoo.exceptions.AccessDenied"
    odoo_knobs(standin, online_plan="custom")
    assert client("res.partner", "search_count", []) > 0


# -- other transports -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_jsonrpc_envelope_and_errors(odoo_standins: Any, version: int) -> None:
    standin = odoo_standins(version)
    creds = standin.info["credentials"]

    def call(service: str, method: str, *args: Any) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "method": "call", "id": 7,
                "params": {"service": service, "method": method, "args": list(args)}}
        response = httpx.post(f"{standin.url}/jsonrpc", json=body, verify=standin.ca_path)
        assert response.status_code == 200
        return dict(response.json())

    assert call("common", "login", creds["db"], "admin", creds["password"]) == {"jsonrpc": "2.0", "id": 7, "result": 2}
    error = call("object", "execute_kw", creds["db"], 2, creds["password"], "res.partner", "search",
                 [[["nope", "=", 1]]])["error"]
    assert error["code"] == (0 if version >= 19 else 200) and error["message"] == "Odoo Server Error"
    assert error["data"]["name"] == "builtins.ValueError"
    assert "Invalid field res.partner.nope" in error["data"]["message"]
    assert "Traceback" in error["data"]["debug"]
    denied = call("object", "execute_kw", creds["db"], 2, "bad", "res.partner", "search", [[]])["error"]["data"]
    assert (denied["name"], denied["message"]) == ("odoo.exceptions.AccessDenied", "Access Denied")
    archived = call("object", "execute_kw", creds["db"], 2, creds["password"], "res.partner", "create",
                    [{"name": "Null Result"}])["result"]
    answer = call("object", "execute_kw", creds["db"], 2, creds["password"], "res.partner", "action_archive",
                  [[archived]])
    assert ("result" in answer) == (version >= 19)  # 17/18 leave result out when the method returned None


@pytest.mark.parametrize("version", VERSIONS)
def test_json2_exists_on_19_only(odoo_standins: Any, version: int) -> None:
    standin = odoo_standins(version)
    with json2(standin) as client:
        response = client.post("/json/2/res.partner/search", json={"domain": []})
        version_page = client.get("/web/version")
    if version < 19:
        assert response.status_code == 404 and "text/html" in response.headers["content-type"]
        assert version_page.status_code == 404
    else:
        assert response.status_code == 200 and isinstance(response.json(), list)
        assert version_page.json() == {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}


def test_json2_calls_and_errors(odoo_standins: Any) -> None:
    standin = odoo_standins(19)
    with json2(standin) as client:
        created = client.post("/json/2/res.partner/create", json={"vals_list": [{"name": "J2 One"},
                                                                                {"name": "J2 Two"}]})
        assert created.status_code == 200 and len(created.json()) == 2
        one, two = created.json()
        single = client.post("/json/2/res.partner/create", json={"vals_list": {"name": "J2 Single"}}).json()
        assert isinstance(single, list) and len(single) == 1  # JSON-2 returns ids, even for one record
        assert client.post("/json/2/res.partner/write", json={"ids": [one], "vals": {"ref": "j2"}}).json() is True
        rows = client.post("/json/2/res.partner/search_read", json={
            "domain": [["ref", "=", "j2"]], "fields": ["name", "parent_id"], "context": {"lang": "en_US"}}).json()
        assert rows == [{"id": one, "name": "J2 One", "parent_id": False}]
        client.post("/json/2/res.partner/action_archive", json={"ids": [two]})
        archived = client.post("/json/2/res.partner/search", json={"domain": [["id", "=", two]],
                                                                   "context": {"active_test": False}}).json()
        assert archived == [two]
        note = client.post("/json/2/res.partner/message_post", json={"ids": [one], "body": "hi",
                                                                     "subtype_xmlid": "mail.mt_note"}).json()
        assert isinstance(note, list) and len(note) == 1
        errors = {
            "bad arg": client.post("/json/2/res.partner/search", json={"domain": [], "bogus": 1}),
            "unknown model": client.post("/json/2/x_nothing/search", json={"domain": []}),
            "unknown method": client.post("/json/2/res.partner/frobnicate", json={}),
            "validation": client.post("/json/2/res.partner/create", json={"vals_list": [{"email": "a@b"}]}),
            "missing": client.post("/json/2/res.partner/write", json={"ids": [999999], "vals": {"ref": "x"}}),
            "value error": client.post("/json/2/res.partner/search", json={"domain": [["nope", "=", 1]]}),
            "ids on api.model": client.post("/json/2/res.partner/create", json={"ids": [one], "vals_list": []}),
            "not an object": client.post("/json/2/res.partner/search", json=[1]),
            "other path": client.get("/json/2/res.partner/search"),
        }
        statuses = {k: (r.status_code, r.json()["name"]) for k, r in errors.items()}
        assert statuses == {
            "bad arg": (422, "werkzeug.exceptions.UnprocessableEntity"),
            "unknown model": (404, "werkzeug.exceptions.NotFound"),
            "unknown method": (404, "werkzeug.exceptions.NotFound"),
            "validation": (422, "odoo.exceptions.ValidationError"),
            "missing": (404, "odoo.exceptions.MissingError"),
            "value error": (500, "builtins.ValueError"),
            "ids on api.model": (422, "werkzeug.exceptions.UnprocessableEntity"),
            "not an object": (400, "werkzeug.exceptions.BadRequest"),
            "other path": (404, "werkzeug.exceptions.NotFound"),
        }
        assert errors["unknown method"].json()["message"] == "The method 'res.partner.frobnicate' does not exist"
        assert errors["ids on api.model"].json()["message"] == "cannot call res.partner.create with ids"
        assert errors["other path"].json()["message"] == "Did you mean POST /json/2/<model>/<method>?"
        assert set(errors["validation"].json()) == {"name", "message", "arguments", "context", "debug"}
    with json2(standin, key="not-a-key") as bad:
        response = bad.post("/json/2/res.partner/search", json={"domain": []})
    assert response.status_code == 401 and response.json()["message"] == "Invalid apikey"
    assert response.headers["www-authenticate"] == "Bearer"
    anonymous = httpx.post(f"{standin.url}/json/2/res.partner/search", json={}, verify=standin.ca_path)
    assert anonymous.status_code == 401 and anonymous.json()["message"].startswith("User not authenticated")
    other_db = httpx.post(f"{standin.url}/json/2/res.partner/search", json={"domain": []}, verify=standin.ca_path,
                          headers={"Authorization": f"bearer {standin.info['credentials']['api_key']}",
                                   "X-Odoo-Database": "elsewhere"})
    assert other_db.status_code == 404


@pytest.mark.parametrize("version", VERSIONS)
def test_odoorpc_client(odoo_standins: Any, version: int) -> None:
    odoo = odoorpc_session(odoo_standins(version))
    assert odoo.version == f"{version}.0" and odoo.env.uid == 2
    assert "res.partner" in odoo.env and "stock.picking" not in odoo.env
    partner_model = odoo.env["res.partner"]
    pid = partner_model.create({"name": "Via odoorpc", "is_company": True})
    partner = partner_model.browse(pid)
    partner.country_id = odoo.env.ref("base.fr").id
    assert partner_model.browse(pid).country_id.code == "FR"
    assert partner_model.browse(pid).commercial_partner_id.id == pid
    with pytest.raises(odoorpc.error.RPCError) as caught:
        partner_model.search([("nope", "=", 1)])
    assert caught.value.info["data"]["name"] == "builtins.ValueError"


def test_legacy_xmlrpc_string_fault_codes(o17: Odoo) -> None:
    legacy = xmlrpc.client.ServerProxy(f"{o17.standin.url}/xmlrpc/object", context=o17.context)
    with pytest.raises(xmlrpc.client.Fault) as caught:
        legacy.execute_kw(o17.db, 2, o17.password, "res.partner", "read", [[999999]], {"fields": ["name"]})
    assert str(caught.value.faultCode).startswith("warning -- MissingError\n\nRecord does not exist")
    with pytest.raises(xmlrpc.client.Fault) as caught:
        legacy.execute_kw(o17.db, 2, "bad", "res.partner", "search", [[]])
    assert caught.value.faultCode == "AccessDenied"


def test_portal_users_get_access_errors(o17: Odoo) -> None:
    portal_uid = o17.common.authenticate(o17.db, "portal@example.com", "password", {})
    assert portal_uid > 2

    def as_portal(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return o17.object.execute_kw(o17.db, portal_uid, "password", model, method, list(args), kwargs)

    assert as_portal("res.country", "search_count", [["code", "=", "FR"]]) == 1
    with pytest.raises(xmlrpc.client.Fault) as caught:
        as_portal("crm.lead", "search", [])
    assert caught.value.faultCode == 4
    assert caught.value.faultString == (
        "You are not allowed to access 'Lead/Opportunity' (crm.lead) records.\n\nThis operation is allowed for the "
        "following groups:\n\t- Sales / User: Own Documents Only\n\nContact your administrator to request access if "
        "necessary.")
    with pytest.raises(xmlrpc.client.Fault) as caught:
        as_portal("res.partner", "create", {"name": "Nope"})
    assert caught.value.faultCode == 4 and "not allowed to create 'Contact'" in caught.value.faultString


def test_saas_release_numbering(odoo_standins: Any, odoo_knobs: Any) -> None:
    standin = odoo_standins(18)
    odoo_knobs(standin, saas_minor=4, online=True)
    client = Odoo(standin)
    try:
        version = client.common.version()
        assert version["server_version"] == "saas~18.4+e" and version["server_version_info"][:2] == ["saas~18", 4]
        assert odoorpc_session(standin).env.uid == 2
        odoo_knobs(standin, saas_minor=None, online=False, enterprise=True)
        assert client.common.version()["server_version"] == "18.0+e"
    finally:
        client.close()


def test_like_patterns_honour_the_backslash_escape(o17: Odoo) -> None:
    # GIVEN names where '_' and '%' are data, not wildcards
    ids = [o17("res.partner", "create", {"name": name}) for name in ("esc_a1", "escXa2", "esc%a3")]
    try:
        # WHEN a pattern escapes them THEN they match only themselves (PostgreSQL LIKE's default escape)
        assert o17("res.partner", "search", [["name", "=like", "esc\\_a%"]]) == [ids[0]]
        assert o17("res.partner", "search", [["name", "=like", "esc\\%a%"]]) == [ids[2]]
        assert sorted(o17("res.partner", "search", [["name", "=like", "esc_a%"]])) == ids  # unescaped: wildcard
    finally:
        o17("res.partner", "unlink", ids)
