"""An app with no models of its own: its migrations are the lint tests' cases.

``MIGRATION_MODULES = {"lintapp": "tests.lintapp.cases.NAME"}`` picks a case.
"""
