"""Zoho CRM's native automation, as data: where a source automation rule is rebuilt (``shared.automation``)."""

from __future__ import annotations

from shared.automation import NativeAutomation

AUTOMATION = NativeAutomation(
    triggers={
        "on_create": ("Workflow rule (record action: Create)",
                      "Setup > Automation > Workflow Rules > Create Rule; Module: {object}; When: Record action "
                      "> Create"),
        "on_update": ("Workflow rule (record action: Edit), or a Blueprint transition",
                      "Setup > Automation > Workflow Rules > Create Rule; Module: {object}; When: Record action "
                      "> Edit (or Field update on the field the conditions read); a status-driven process is a "
                      "Blueprint: Setup > Process Management > Blueprint"),
        "schedule": ("Workflow rule (date/time based)",
                     "Setup > Automation > Workflow Rules > Create Rule; Module: {object}; When: Date/Time "
                     "(on the date field the conditions read), repeating {schedule}; or a Deluge function on a "
                     "Schedule (Setup > Automation > Schedules)"),
    },
    conditions={
        "changed": "Field update trigger on the field, with the criteria on its new value",
        "date_window": "Date/Time trigger relative to the date field (N days before/after)",
        "plain": "Rule criteria (Condition)",
    },
    actions={
        "field_update": "Instant action: Field Update",
        "email": "Instant action: Email Notification with an email template",
        "notify": "Instant action: Email Notification to the owner, or Assign Task",
        "create_record": "Instant action: Create Record, or a Deluge function for modules it does not cover",
        "assign": "Assignment rule (Setup > Automation > Assignment Rules), round robin by territory",
        "sms": "No native SMS: an SMS extension from the Marketplace, or a Webhook to the provider",
        "external": "Instant action: Webhook, or a Deluge function",
        "note": "Deluge function adding a Note to the record",
    },
    activation="Activate the rule after trying it on a migrated record (the rule was {active} in the source)",
)
