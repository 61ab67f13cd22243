"""The records server, key custodians and portal. Imports the core only.

Not built yet: see the project's issues. This package exists so that the
trust boundary (import contracts) is enforced from the first commit.
"""
