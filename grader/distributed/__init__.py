"""Grading on many machines: Celery workers (`grader worker`) on each Docker host, and a coordinator
(`grader grade ... --broker URL`) that fans a cohort out to them and collects the results.

- `artifacts`: content-addressed archives (submissions, challenge bundles, result folders) in the broker's
  Redis, hash-verified on arrival, with a size cap.
- `protocol`: the one JSON message a task carries, its idempotency key, and the broker settings both sides
  share (JSON only, late acknowledgement, one task per worker slot, the visibility timeout).
- `worker`: the Celery app and its task, which runs the same pipeline as `grader grade`
  (`grader.pipeline.grade_submission`) on the worker's own backend and caches.
- `coordinator`: sends a batch, follows its progress, writes the results into `--out`, and cancels on Ctrl-C.
"""
