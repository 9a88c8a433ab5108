"""Slack stand-in: an incoming webhook and interactivity (signed ``block_actions`` callbacks) over HTTPS.

Approval requests are posted to its webhook like to Slack's; a test "clicks" a button through
``POST /__standin/click`` and the stand-in calls the app's interactivity URL exactly as Slack
would, signed with the app's signing secret (see ``docs/approvals.md``).
"""

from __future__ import annotations

from sandbox.slack.app import SlackStandinConfig, build_app

__all__ = ["SlackStandinConfig", "build_app"]
