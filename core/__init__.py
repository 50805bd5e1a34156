"""The leaf of the project: what every stage shares and nothing depends on.

`core` imports no other project package (a test walks the imports to keep it so). It holds the
installation layout, the error classes with their exit codes, and small helpers every stage needs.
"""
