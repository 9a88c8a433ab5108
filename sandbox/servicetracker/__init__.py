"""ServiceTracker stand-in: a field-service platform with no public API, served as FlitStack defines it.

``python -m sandbox.servicetracker serve|generate|validate`` - see ``docs/servicetracker-api.md``
and ``docs/servicetracker-dump-format.md``.
"""
