"""The Django tier: Django's own migrations, applied under schemaops's lock discipline."""
