"""Sercom stand-in: a field-service CRM with no public API, served as the project defines it.

``python -m sandbox.sercom serve|generate|validate`` - see ``docs/sercom-api.md`` and
``docs/tenant-dump-format.md``.
"""
