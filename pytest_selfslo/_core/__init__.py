"""The lowest layer: errors, durations, Go number formatting, Go regexps on RE2 (``goregex``),
input budgets (``limits``), atomic writes, ports, the reaper.

Everything else in the package may import from here; nothing here imports the rest.
"""
