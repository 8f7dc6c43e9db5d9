from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def server_params(db: None) -> dict[str, object]:
    """Connection parameters of the PostgreSQL server the tests run on (any database)."""
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    return params
