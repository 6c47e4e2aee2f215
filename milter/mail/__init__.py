"""The message as data, parsed once and read by every stage. No I/O.

envelope (what SMTP said), headers (raw header block edits), received (the client from
a Received field), view (the parse every stage shares), and the decoders it uses:
mime_decode, mime_policy, mime_raw, body_stream, clip, structure, html, pdf.
"""
