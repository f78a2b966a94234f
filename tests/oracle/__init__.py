"""Test-only oracle: an independent reading of SPEC sections 1 to 6, and random databases.

Nothing here imports ``classifier``; the two implementations check each other
(see ``docs/oracle.md``).
"""
