"""The host side of the checks: what the grader knows about each check, and reading what it wrote.

A check's code runs in the sandbox (`checks/<module>.py`); here is only its spec (`spec.CheckSpec`): where
it runs, its time limit, the metrics it declares, how its command is built and how its output is parsed.
`registry` lists every check; `static` holds the static checks' spec and plan, `suite` the challenge suite's.
The file names and shapes both sides share are `checks.formats`, the one module of `checks/` imported here.
"""
