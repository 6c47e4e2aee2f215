"""The crash-safe quarantine that admins review: store (ids, durable files, the SQLite
index, the meta format).
"""
