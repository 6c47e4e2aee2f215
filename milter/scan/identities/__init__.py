"""Who may send as whom: the registry of authorities and brands, and the claims a
message makes to be one of them.
"""
