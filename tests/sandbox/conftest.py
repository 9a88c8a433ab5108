"""Fixtures for the sandbox stand-in tests (names are prefixed by stand-in kind)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from simple_salesforce import Salesforce

from sandbox.serve import RunningStandin, start_standin

SALESFORCE_USERS = [
    {"FirstName": "Ada", "LastName": "Field", "Email": "ada@example.com", "IsActive": True},
    {"FirstName": "Old", "LastName": "Timer", "Email": "old@example.com", "IsActive": False},
]


def salesforce_token(standin: RunningStandin) -> str:
    """An access token from the stand-in's OAuth endpoint (password flow)."""
    creds = standin.info["credentials"]
    response = httpx.post(
        standin.url + "/services/oauth2/token", data={"grant_type": "password", **creds}, verify=standin.ca_path
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def salesforce_client(standin: RunningStandin, token: str) -> Salesforce:
    """An unmodified simple-salesforce client pointed at the stand-in over TLS.

    ``trust_env = False`` stops requests from letting ``REQUESTS_CA_BUNDLE`` (set in this
    environment) override ``session.verify``.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = standin.ca_path
    return Salesforce(instance_url=standin.url, session_id=token, session=session, version="60.0")


@pytest.fixture(scope="module")
def salesforce_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    folder: Path = tmp_path_factory.mktemp("salesforce")
    users = folder / "users.json"
    users.write_text(json.dumps(SALESFORCE_USERS))
    standin = start_standin(
        "salesforce", ["--state", str(folder / "org.sqlite"), "--users-file", str(users), "--fault-seed", "7"]
    )
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture(scope="module")
def salesforce_session_token(salesforce_standin: RunningStandin) -> str:
    return salesforce_token(salesforce_standin)


@pytest.fixture(scope="module")
def sf(salesforce_standin: RunningStandin, salesforce_session_token: str) -> Iterator[Salesforce]:
    client = salesforce_client(salesforce_standin, salesforce_session_token)
    yield client
    # close keep-alive TLS connections first, or the server's graceful shutdown waits for them
    client.session.close()


@pytest.fixture(scope="module")
def salesforce_admin(salesforce_standin: RunningStandin, salesforce_session_token: str) -> Iterator[httpx.Client]:
    """httpx client for raw calls (``/__standin/*`` and wire-level checks), bearer token set."""
    with httpx.Client(
        base_url=salesforce_standin.url,
        verify=salesforce_standin.ca_path,
        headers={"Authorization": f"Bearer {salesforce_session_token}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture()
def salesforce_knobs(salesforce_admin: httpx.Client) -> Iterator[Any]:
    """Set knobs for one test; the original configuration is restored afterwards."""
    original = salesforce_admin.get("/__standin/config").json()

    def set_knobs(**knobs: Any) -> dict[str, Any]:
        response = salesforce_admin.post("/__standin/config", json=knobs)
        response.raise_for_status()
        return dict(response.json())

    try:
        yield set_knobs
    finally:
        salesforce_admin.post("/__standin/config", json=original).raise_for_status()


# -- Dynamics 365 / Dataverse stand-in ----------------------------------------------------------------------------

DYNAMICS_USERS = [
    {"firstname": "Ada", "lastname": "Field", "internalemailaddress": "ada@example.com", "isdisabled": False},
    {"firstname": "Old", "lastname": "Timer", "internalemailaddress": "old@example.com", "isdisabled": True},
]


def dynamics_token(standin: RunningStandin) -> str:
    """An access token from the stand-in's Entra ID endpoint (client-credentials flow)."""
    info = standin.info
    response = httpx.post(
        f"{standin.url}/{info['tenant_id']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", **info["credentials"], "scope": f"{standin.url}/.default"},
        verify=standin.ca_path,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def dynamics_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    folder: Path = tmp_path_factory.mktemp("dynamics")
    users = folder / "users.json"
    users.write_text(json.dumps(DYNAMICS_USERS))
    standin = start_standin(
        "dynamics",
        ["--state", str(folder / "env.sqlite"), "--users-file", str(users), "--fault-seed", "7", "--field-service"],
    )
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture(scope="module")
def dynamics_session_token(dynamics_standin: RunningStandin) -> str:
    return dynamics_token(dynamics_standin)


@pytest.fixture(scope="module")
def dataverse(dynamics_standin: RunningStandin, dynamics_session_token: str) -> Iterator[httpx.Client]:
    """Plain httpx OData client rooted at ``/api/data/v9.2/`` with the recommended headers."""
    with httpx.Client(
        base_url=f"{dynamics_standin.url}/api/data/v9.2/",
        verify=dynamics_standin.ca_path,
        headers={
            "Authorization": f"Bearer {dynamics_session_token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            "If-None-Match": "null",
        },
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def dynamics_admin(dynamics_standin: RunningStandin, dynamics_session_token: str) -> Iterator[httpx.Client]:
    """httpx client for ``/__standin/*`` (same bearer token, as for the Salesforce stand-in)."""
    with httpx.Client(
        base_url=dynamics_standin.url,
        verify=dynamics_standin.ca_path,
        headers={"Authorization": f"Bearer {dynamics_session_token}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture()
def dynamics_knobs(dynamics_admin: httpx.Client) -> Iterator[Any]:
    """Set knobs for one test; the original configuration (and usage counters) are restored afterwards."""
    original = dynamics_admin.get("/__standin/config").json()

    def set_knobs(**knobs: Any) -> dict[str, Any]:
        response = dynamics_admin.post("/__standin/config", json=knobs)
        response.raise_for_status()
        return dict(response.json())

    try:
        yield set_knobs
    finally:
        dynamics_admin.post("/__standin/config", json=original).raise_for_status()
        dynamics_admin.post("/__standin/usage/reset").raise_for_status()


# -- Zoho CRM v8 stand-in -------------------------------------------------------------------------------------------

ZOHO_USERS = [
    {"first_name": "Ada", "last_name": "Field", "email": "ada@example.com", "status": "active"},
    {"first_name": "Old", "last_name": "Timer", "email": "old@example.com", "status": "disabled"},
]


def zoho_token(standin: RunningStandin, refresh_key: str = "refresh_token") -> dict[str, Any]:
    """The accounts host's answer to a refresh-token grant (``access_token``, ``api_domain``, …)."""
    creds = standin.info["credentials"]
    response = httpx.post(
        f"{standin.url}{standin.info['accounts_path']}/oauth/v2/token",
        data={"grant_type": "refresh_token", "client_id": creds["client_id"],
              "client_secret": creds["client_secret"], "refresh_token": creds[refresh_key]},
        verify=standin.ca_path,
    )
    response.raise_for_status()
    return dict(response.json())


@pytest.fixture(scope="module")
def zoho_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    folder: Path = tmp_path_factory.mktemp("zoho")
    users = folder / "users.json"
    users.write_text(json.dumps(ZOHO_USERS))
    standin = start_standin("zoho", ["--state", str(folder / "org.sqlite"), "--users-file", str(users),
                                     "--fault-seed", "7"])
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture(scope="module")
def zoho_grant(zoho_standin: RunningStandin) -> dict[str, Any]:
    return zoho_token(zoho_standin)


@pytest.fixture(scope="module")
def zoho(zoho_standin: RunningStandin, zoho_grant: dict[str, Any]) -> Iterator[httpx.Client]:
    """Plain httpx client on the token's ``api_domain`` with ``Authorization: Zoho-oauthtoken``."""
    with httpx.Client(
        base_url=zoho_grant["api_domain"],
        verify=zoho_standin.ca_path,
        headers={"Authorization": f"Zoho-oauthtoken {zoho_grant['access_token']}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture()
def zoho_knobs(zoho: httpx.Client) -> Iterator[Any]:
    """Set knobs for one test; the configuration and the credit ledger are restored afterwards."""
    original = zoho.get("/__standin/config").json()

    def set_knobs(**knobs: Any) -> dict[str, Any]:
        response = zoho.post("/__standin/config", json=knobs)
        response.raise_for_status()
        return dict(response.json())

    try:
        yield set_knobs
    finally:
        zoho.post("/__standin/config", json=original).raise_for_status()
        zoho.post("/__standin/credits/reset").raise_for_status()


# -- Odoo 17 / 18 / 19 stand-in -------------------------------------------------------------------------------------

ODOO_USERS = [
    {"name": "Ada Field", "login": "ada@example.com", "email": "ada@example.com", "active": True,
     "password": "ada-pw"},
    {"name": "Old Timer", "login": "old@example.com", "email": "old@example.com", "active": False,
     "password": "old-pw"},
    {"name": "Paula Portal", "login": "portal@example.com", "email": "portal@example.com", "share": True},
]


@pytest.fixture(scope="module")
def odoo_standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``get(version)`` starts (once per module) a stand-in serving that Odoo version, with its own database."""
    started: dict[int, RunningStandin] = {}

    def get(version: int) -> RunningStandin:
        if version not in started:
            folder: Path = tmp_path_factory.mktemp(f"odoo{version}")
            users = folder / "users.json"
            users.write_text(json.dumps(ODOO_USERS))
            started[version] = start_standin("odoo", [
                "--state", str(folder / "db.sqlite"), "--users-file", str(users), "--version", str(version),
                "--fault-seed", "7"])
        return started[version]

    try:
        yield get
    finally:
        for standin in started.values():
            standin.stop()


@pytest.fixture()
def odoo_knobs() -> Iterator[Any]:
    """``set_knobs(standin, **knobs)`` for one test; every touched stand-in gets its configuration back afterwards."""
    touched: dict[str, tuple[RunningStandin, dict[str, Any]]] = {}

    def admin(standin: RunningStandin) -> httpx.Client:
        key = standin.info["credentials"]["api_key"]
        return httpx.Client(base_url=standin.url, verify=standin.ca_path, timeout=30,
                            headers={"Authorization": f"bearer {key}"})

    def set_knobs(standin: RunningStandin, **knobs: Any) -> dict[str, Any]:
        with admin(standin) as client:
            if standin.url not in touched:
                touched[standin.url] = (standin, client.get("/__standin/config").json())
            response = client.post("/__standin/config", json=knobs)
            response.raise_for_status()
            return dict(response.json())

    try:
        yield set_knobs
    finally:
        for standin, original in touched.values():
            with admin(standin) as client:
                client.post("/__standin/config", json=original).raise_for_status()


# -- ServiceTracker stand-in (source) ------------------------------------------------------------------------------

SERVICETRACKER_TOKEN = "st-test-token"  # noqa: S105 - a throw-away token of a loopback stand-in


@pytest.fixture(scope="module")
def servicetracker_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    """A generated ServiceTracker tenant (1,500 records, seed 21) with limits loose enough for tests that
    tighten them one at a time; ``info["seed"]`` and ``info["records"]`` let a test regenerate it in-process."""
    folder: Path = tmp_path_factory.mktemp("servicetracker")
    standin = start_standin("servicetracker", [
        "--state", str(folder / "state.sqlite"), "--records", "1500", "--seed", "21",
        "--api-token", SERVICETRACKER_TOKEN, "--rate-limit-per-s", "0", "--export-processing-s", "0.2",
        "--fault-seed", "7",
    ])
    try:
        yield standin
    finally:
        standin.stop()
