"""Coverage-guided fuzzing (atheris) of every parser of bytes from outside.

See docs/hostile-input.md.
"""
