"""Detection rules: yaml_source (YAML with positions), loader (files to checked rules),
condition (the condition language), engine (prefilter and evaluation), examples (lint).
"""
