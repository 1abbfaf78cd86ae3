"""Speed and memory figures for avosms-import, each measured beside a reference in the same run.

`python -m bench` (or `make bench`) runs every benchmark, prints a table as it goes and writes
`bench/RESULTS.md` with the machine's description; `python -m bench startup excel` runs some.
A ratio to a reference taken minutes apart on the same machine holds on a noisy host where an
absolute figure would not.
"""
