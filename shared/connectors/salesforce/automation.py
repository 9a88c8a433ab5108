"""Salesforce's native automation, as data: where a source automation rule is rebuilt (``shared.automation``)."""

from __future__ import annotations

from shared.automation import NativeAutomation

AUTOMATION = NativeAutomation(
    triggers={
        "on_create": ("Record-Triggered Flow", "Setup > Flows > New Flow > Record-Triggered Flow; Object: {object}; "
                      "Trigger the Flow When: A record is created"),
        "on_update": ("Record-Triggered Flow", "Setup > Flows > New Flow > Record-Triggered Flow; Object: {object}; "
                      "Trigger the Flow When: A record is updated; When to Run: Only when a record is updated to "
                      "meet the condition requirements"),
        "schedule": ("Schedule-Triggered Flow", "Setup > Flows > New Flow > Schedule-Triggered Flow; Start: "
                     "{schedule}; Object: {object} with the conditions as the record filter"),
    },
    conditions={
        "changed": "Entry condition with the field's prior value ($Record__Prior) compared to $Record",
        "date_window": "Entry condition on the date field with a formula (TODAY() + N), or a scheduled path",
        "plain": "Entry condition (All Conditions Are Met)",
    },
    actions={
        "field_update": "Update Records on the triggering record (a fast field update before save when alone)",
        "email": "Action: Send Email (or an Email Alert with a Lightning email template)",
        "notify": "Action: Send Custom Notification to the record owner or a queue",
        "create_record": "Create Records element",
        "assign": "Assignment rule, or Update Records setting OwnerId from a Get Records on the territory",
        "sms": "No native SMS: an AppExchange SMS package or an Apex action calling the SMS provider",
        "external": "HTTP Callout action (External Services) or an Apex action",
        "note": "Create Records: a ContentNote linked through ContentDocumentLink, or a Task",
    },
    activation="Save, Debug against a migrated record, then Activate (the rule was {active} in the source)",
)
