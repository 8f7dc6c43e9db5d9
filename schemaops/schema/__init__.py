"""Knowing the schema: the database's objects read from the catalog and the schema
file (``manage.py schemaops snapshot``) they are written to and compared with; the
live database compared with what the Django models say should be there (drift)."""
