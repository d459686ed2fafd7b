"""Impostor of the grader's `checks` package: the same name, so a careless sys.path would import it."""
