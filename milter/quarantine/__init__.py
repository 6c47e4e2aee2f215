"""The crash-safe quarantine that admins review.

- ``store``: QuarantineStore, which puts, reads and changes entries in a crash-safe order;
  importers take every public name from here;
- ``files``: the directory layout and durable file I/O (0700/0600, O_NOFOLLOW, fsync);
- ``index``: the SQLite index, a cache of the meta files (resync, rebuild);
- ``schema``: the index's tables, rows <-> entries, filters -> WHERE clauses;
- ``records``: the meta file format and the values read from it (entries, events, states);
- ``ids``: entry ids (time-ordered, never a path);
- ``release``: delivering a held message to the next hop, then marking it released.
"""
