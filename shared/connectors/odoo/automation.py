"""Odoo's native automation, as data: where a source automation rule is rebuilt (``shared.automation``)."""

from __future__ import annotations

from shared.automation import NativeAutomation

AUTOMATION = NativeAutomation(
    triggers={
        "on_create": ("Automated action (base.automation, trigger on_create)",
                      "Settings > Technical > Automation Rules > New (developer mode); Model: {object}; "
                      "Trigger: On creation"),
        "on_update": ("Automated action (base.automation, trigger on_write / on_create_or_write)",
                      "Settings > Technical > Automation Rules > New; Model: {object}; Trigger: On update "
                      "(trigger fields: the fields the conditions read)"),
        "schedule": ("Automated action (base.automation, trigger on_time), or a scheduled action (ir.cron)",
                     "Settings > Technical > Automation Rules > New; Model: {object}; Trigger: Based on date "
                     "field; or Settings > Technical > Scheduled Actions for '{schedule}'"),
    },
    conditions={
        "changed": "'Before update filter' (filter_pre_domain) with the old value, 'Apply on' with the new one",
        "date_window": "Trigger date field with a delay (trg_date_range) of N days",
        "plain": "'Apply on' domain (filter_domain)",
    },
    actions={
        "field_update": "Server action (ir.actions.server), type 'Update the record' (object_write)",
        "email": "Server action, type 'Send email' with a mail.template",
        "notify": "Server action, type 'Create activity' for the responsible, or 'Add followers'",
        "create_record": "Server action, type 'Create a new record' (object_create)",
        "assign": "Server action, type 'Execute code' choosing user_id (round robin)",
        "sms": "Server action, type 'Send SMS' (the sms module, an IAP credit service)",
        "external": "Server action, type 'Send webhook notification' (17+), or 'Execute code'",
        "note": "Server action, type 'Execute code': record.message_post(body=...)",
    },
    activation="Save the rule active after trying it on a migrated record (the rule was {active} in the source)",
)
