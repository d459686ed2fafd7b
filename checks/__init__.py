"""Code that runs inside the sandbox's grader-controlled runner: the pytest plugin and the checks."""
