"""OCR of image attachments: Tesseract through tesserocr, results cached by SHA-256.

Not under mail/ or scan/ (which are pure, docs/architecture.md): the engine is native code
kept loaded per thread, and the cache may write to disk. Importing this package never
raises: without tesserocr or Tesseract's data, ``engine.probe()`` says why in one status.
"""
