"""Similar submissions across a cohort (docs/similarity.md): fingerprints of each submission's Python code,
compared through an index, with the starter, the framework's boilerplate and common code ruled out.

Host side, text only: the candidate's code is tokenized, never imported or run.
"""
