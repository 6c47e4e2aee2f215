"""The command line: main (check, serve, rules) and quarantine; argument parsing and
output only.
"""
