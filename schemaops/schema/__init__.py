"""Knowing the schema: the live database compared with what should be there."""
