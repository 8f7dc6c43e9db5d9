"""The lock discipline: how every statement ``migrate`` runs takes its locks, in both tiers.

A schema change that waits for a lock makes every query behind it wait too.
So each statement runs under ``lock_timeout`` and ``statement_timeout``
(:mod:`~schemaops.locking.timeouts`); before a statement whose lock writers
would queue behind, ``pg_locks`` is read, and instead of queuing behind a
long transaction the runner waits holding nothing, and cancels a plain
autovacuum in the way (:mod:`~schemaops.locking.holders`); a statement or
transaction that hit ``lock_timeout`` is retried with exponential backoff and
jitter (:mod:`~schemaops.locking.retry`); ``CONCURRENTLY`` statements get a
budget of their own, report their progress, and a failed index build's
INVALID index is dropped before the retry (:mod:`~schemaops.locking.indexes`,
:mod:`~schemaops.locking.progress`). :class:`~schemaops.locking.discipline.LockDiscipline`
puts these together for one database; the SQL tier's executor and the Django
tier's migration guard both use it.
"""
