"""Linting Django migrations with no database: the walk over the plan (:mod:`.walk`),
the public context a rule's operation check reads (:mod:`.operation`), the facts
each operation records (:mod:`.facts`), offline rendering of third-party
operations (:mod:`.offline`) and where operations are in their files (:mod:`.source`).

Nothing here is imported until Django migrations are linted, except
:mod:`.operation`, which imports nothing of Django at module level.
"""
