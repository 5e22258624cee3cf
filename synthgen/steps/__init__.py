"""Generic steps after the engine: every recipe's samples pass through these.

A recipe brings its own check steps (parse, validate, measure); these generic ones come
after them and read only what the checks set on a sample: its ``cell``, its ``keys``.
"""
