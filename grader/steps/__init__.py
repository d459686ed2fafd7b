"""The steps of one grading, each a small function over frozen records (`grader.steps.records`).

`intake` (snapshot, project, dependencies declared, start command) -> `environment` (wheels, runner and
candidate environments) -> `runs` (static checks, candidate tests, the app with the suite) -> `scoring` ->
`result`. `grader.pipeline` composes them; the backends below run the requests the runs step builds.
"""
