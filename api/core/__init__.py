"""The shared layer that the API and the worker processes both stand on.

Settings, the database (tables, tenancy, persistence functions), the broker seam (the
Celery app factory and publishing), artifact paths, the search-index format and archive
extraction. It imports nothing else from ``api`` and nothing from ``worker``, and importing
it has no side effects (no file, connection or thread); ``tests/test_import_contract.py``
checks both.
"""
