"""SMTP on both sides of the filter.

Protocol without I/O (h11's discipline): replies, params, xforward, client, data.
I/O: front (the server Postfix talks to) and relay (the client to the next hop).
"""
