"""Model access rights as a loader meets them: portal (``share``) users are refused, fault 4.

Internal users get full access here (the stand-in has no record rules or per-group ACLs: a
simplification, documented). A share user may read contacts, countries and states and nothing
else; anything more is ``ir.model.access``'s AccessError, worded as Odoo words it. The groups
named in the message are UNCONFIRMED per version.
"""

from __future__ import annotations

from sandbox.odoo import errors
from sandbox.odoo.orm import Env

PORTAL_READABLE = ("res.partner", "res.country", "res.country.state")
OPERATIONS = {"create": "create", "write": "modify", "unlink": "delete", "message_post": "modify",
              "action_archive": "modify", "action_unarchive": "modify"}
GROUPS = {"crm.lead": ("Sales / User: Own Documents Only",), "crm.stage": ("Sales / User: Own Documents Only",)}


def check(env: Env, model: str, method: str) -> None:
    """Raise the AccessError ``ir.model.access`` raises when ``env.uid`` may not run ``method`` on ``model``."""
    user = env.browse("res.users", [env.uid]).get(env.uid)
    if not user or not user.get("share"):
        return
    operation = OPERATIONS.get(method, "access")
    if operation == "access" and model in PORTAL_READABLE:
        return
    groups = GROUPS.get(model, ())
    group_info = ("This operation is allowed for the following groups:\n" + "\n".join(f"\t- {g}" for g in groups)
                  if groups else "No group currently allows this operation.")
    description = env.spec(model).description
    raise errors.AccessError(f"You are not allowed to {operation} '{description}' ({model}) records.\n\n"
                             f"{group_info}\n\nContact your administrator to request access if necessary.")
