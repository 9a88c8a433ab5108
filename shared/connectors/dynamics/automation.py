"""Dynamics 365's native automation, as data: where a source automation rule is rebuilt (``shared.automation``)."""

from __future__ import annotations

from shared.automation import NativeAutomation

AUTOMATION = NativeAutomation(
    triggers={
        "on_create": ("Power Automate cloud flow (Dataverse trigger)",
                      "make.powerautomate.com > Create > Automated cloud flow > Dataverse 'When a row is added, "
                      "modified or deleted'; Change type: Added; Table name: {object}; Scope: Organization "
                      "(or a real-time classic workflow: Settings > Processes > New, Start when: Record is created)"),
        "on_update": ("Power Automate cloud flow (Dataverse trigger)",
                      "make.powerautomate.com > Create > Automated cloud flow > Dataverse 'When a row is added, "
                      "modified or deleted'; Change type: Modified; Table name: {object}; Select columns: the "
                      "fields the conditions read (or a classic workflow, Start when: Record fields change)"),
        "schedule": ("Power Automate scheduled cloud flow",
                     "make.powerautomate.com > Create > Scheduled cloud flow; Recurrence: {schedule}; then "
                     "Dataverse 'List rows' on {object} with the conditions as an OData $filter"),
    },
    conditions={
        "changed": "Trigger condition on the column (Select columns + a Condition on the new value)",
        "date_window": "'List rows' $filter with a date function (e.g. Microsoft.Dynamics.CRM.NextXDays)",
        "plain": "Filter rows (OData) on the trigger, or a Condition step",
    },
    actions={
        "field_update": "Dataverse 'Update a row' on the triggering row",
        "email": "Office 365 Outlook 'Send an email (V2)', or Dataverse 'Add a new row' to email + SendEmail",
        "notify": "Microsoft Teams 'Post message', or an in-app notification (appnotification row)",
        "create_record": "Dataverse 'Add a new row'",
        "assign": "Dataverse 'Update a row' setting Owner (Assign), or routing rules",
        "sms": "No native SMS: a connector of the SMS provider (e.g. Twilio 'Send Text Message')",
        "external": "HTTP action (premium) or a custom connector",
        "note": "Dataverse 'Add a new row' to Notes (annotation) regarding the row",
    },
    activation="Turn the flow on after a test run against a migrated row (the rule was {active} in the source)",
)
