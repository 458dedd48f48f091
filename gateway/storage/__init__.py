"""The gateway's files on disk, as an operator looks after them for years.

* :mod:`~gateway.storage.files`: which SQLite databases a site keeps, and where;
* :mod:`~gateway.storage.lock`: one gateway per storage directory (an exclusive lock at start-up);
* :mod:`~gateway.storage.schema`: schema versions and forward migrations at start-up;
* :mod:`~gateway.storage.schemas`: the version history of each database;
* :mod:`~gateway.storage.backup`: ``border-gateway backup`` / ``restore`` (SQLite online backup);
* :mod:`~gateway.storage.retention`: how long each kind of data is kept (``border-gateway purge``
  and the service's daily purge).

This package is below the stages: the enrichment store and the outbox use it, it uses neither.
"""
