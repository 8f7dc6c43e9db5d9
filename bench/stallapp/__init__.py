"""The stall benchmark's Django app: its model is the ``orders`` table of
``bench/stall.py``, and each case under ``cases/`` is one migrations module.

``MIGRATION_MODULES = {"stallapp": "bench.stallapp.cases.NAME"}`` (set by
``bench/settings_stall.py`` from ``SCHEMAOPS_STALL_CASE``) picks a case. Every
case starts with the same ``0001_initial`` (``common.InitialMigration``), which
the benchmark fakes on its template database, where ``orders`` already exists.
"""
