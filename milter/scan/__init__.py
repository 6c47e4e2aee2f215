"""From a parsed message to a verdict: targets, normalize, detectors, rules, identities,
scanner (the whole), verdict (the result). No I/O, except reading rule files.
"""
