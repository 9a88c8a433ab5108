"""SQLite state of the Slack stand-in: the app's secrets, received messages, follow-ups, clicks.

One file holds the workspace identity (team, bot, webhook token, signing secret), the
runtime config, every message posted to the incoming webhook (current text/blocks, and the
original when a follow-up replaced it), the one-time ``response_url`` slots created by
clicks, and the follow-ups posted to them - so a test can stop the stand-in, snapshot the
file, and serve it again with the same webhook URL and signing secret.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import threading
import time
from pathlib import Path
from typing import Any

STATE_FORMAT = "slack-state/1"
#: Slack lets an app use one ``response_url`` up to five times within thirty minutes.
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_S = 30 * 60

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    ts TEXT NOT NULL,
    text TEXT,
    blocks TEXT,
    original TEXT,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE response_slots (
    token TEXT PRIMARY KEY,
    message_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    uses INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE clicks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL,
    action_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    status INTEGER,
    body TEXT
);
"""

_UPPER = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits


def _rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def create_state(path: Path) -> None:
    """A new workspace: team ``T…``, bot ``B…``, a 24-character webhook token and a signing secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(_SCHEMA)
        meta = {
            "format": STATE_FORMAT,
            "team_id": "T" + _rand(_UPPER, 10),
            "team_domain": "flitstack-sandbox",
            "bot_id": "B" + _rand(_UPPER, 10),
            "app_id": "A" + _rand(_UPPER, 10),
            "channel_id": "C" + _rand(_UPPER, 10),
            "channel_name": "migrations",
            "webhook_token": _rand(_ALNUM, 24),
            "signing_secret": secrets.token_hex(16),
            "verification_token": _rand(_ALNUM, 24),
            "config": "{}",
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        conn.commit()
    finally:
        conn.close()


class SlackStore:
    """Thread-safe access to one state file (one connection, one lock; every call is short)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self.meta: dict[str, str] = {r["key"]: r["value"] for r in self._db.execute("SELECT key, value FROM meta")}
        if self.meta.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a Slack stand-in state ({STATE_FORMAT})")

    @property
    def webhook_path(self) -> str:
        return f"/services/{self.meta['team_id']}/{self.meta['bot_id']}/{self.meta['webhook_token']}"

    @property
    def signing_secret(self) -> str:
        return str(self.meta["signing_secret"])

    def config(self) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        return dict(json.loads(row["value"]))

    def set_config(self, config: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))

    def add_message(self, text: str | None, blocks: list[Any] | None) -> int:
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO messages (received_at, ts, text, blocks) VALUES (?, '', ?, ?)",
                (now, text, None if blocks is None else json.dumps(blocks)),
            )
            message_id = int(cur.lastrowid or 0)
            # Slack's message ts: epoch seconds "." six digits, unique per channel
            self._db.execute("UPDATE messages SET ts = ? WHERE id = ?", (f"{int(now)}.{message_id:06d}", message_id))
        return message_id

    def message(self, message_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else self._message(row)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM messages ORDER BY id").fetchall()
            responses = self._db.execute("SELECT * FROM responses ORDER BY id").fetchall()
        by_message: dict[int, list[dict[str, Any]]] = {}
        for r in responses:
            by_message.setdefault(int(r["message_id"]), []).append(self._response(r))
        return [{**self._message(row), "responses": by_message.get(int(row["id"]), [])} for row in rows]

    @staticmethod
    def _message(row: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": int(row["id"]),
            "received_at": float(row["received_at"]),
            "ts": row["ts"],
            "text": row["text"],
            "blocks": json.loads(row["blocks"]) if row["blocks"] is not None else None,
            "deleted": bool(row["deleted"]),
        }
        if row["original"] is not None:
            out["original"] = json.loads(row["original"])
        return out

    @staticmethod
    def _response(row: sqlite3.Row) -> dict[str, Any]:
        return {"id": int(row["id"]), "message_id": int(row["message_id"]),
                "received_at": float(row["received_at"]), "body": json.loads(row["body"])}

    def open_response_slot(self, message_id: int, user_id: str) -> str:
        token = _rand(_ALNUM, 24)
        with self._lock:
            self._db.execute("INSERT INTO response_slots (token, message_id, user_id, created_at) VALUES (?, ?, ?, ?)",
                             (token, message_id, user_id, time.time()))
        return token

    def use_response_slot(self, token: str, body: dict[str, Any]) -> str | None:
        """Store a follow-up; None when accepted, else Slack's error code for the URL."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                slot = self._db.execute("SELECT * FROM response_slots WHERE token = ?", (token,)).fetchone()
                if slot is None:
                    self._db.execute("ROLLBACK")
                    return "no_service"
                if now - float(slot["created_at"]) > RESPONSE_URL_TTL_S:
                    self._db.execute("ROLLBACK")
                    return "expired_url"
                if int(slot["uses"]) >= RESPONSE_URL_USES:
                    self._db.execute("ROLLBACK")
                    return "used_url"
                message_id = int(slot["message_id"])
                self._db.execute("UPDATE response_slots SET uses = uses + 1 WHERE token = ?", (token,))
                self._db.execute("INSERT INTO responses (message_id, received_at, body) VALUES (?, ?, ?)",
                                 (message_id, now, json.dumps(body)))
                if body.get("delete_original"):
                    self._db.execute("UPDATE messages SET deleted = 1 WHERE id = ?", (message_id,))
                elif body.get("replace_original"):
                    row = self._db.execute("SELECT text, blocks, original FROM messages WHERE id = ?",
                                           (message_id,)).fetchone()
                    original = row["original"] or json.dumps(
                        {"text": row["text"], "blocks": json.loads(row["blocks"]) if row["blocks"] else None})
                    blocks = body.get("blocks")
                    self._db.execute(
                        "UPDATE messages SET text = ?, blocks = ?, original = ? WHERE id = ?",
                        (body.get("text"), None if blocks is None else json.dumps(blocks), original, message_id),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return None

    def responses(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM responses ORDER BY id").fetchall()
        return [self._response(r) for r in rows]

    def record_click(self, message_id: int, action_id: str, user_id: str, status: int | None, body: str | None) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO clicks (message_id, action_id, user_id, sent_at, status, body) VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, action_id, user_id, time.time(), status, body),
            )
        return int(cur.lastrowid or 0)

    def clicks(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM clicks ORDER BY id").fetchall()
        return [dict(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
