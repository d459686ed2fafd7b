"""Grading on many machines: Celery workers (`grader worker`) on each Docker host, and a coordinator
(`grader grade ... --broker URL`) that fans a cohort out to them and collects the results.

- `artifacts`: content-addressed archives (submissions, challenge bundles, result folders), the protocol of
  the stores that carry them and the default one, the broker's Redis; hash-verified on arrival, with a size cap.
- `stores`: `--artifacts URL` chosen by scheme, and the store location a task message carries; `s3`: the
  S3-compatible store (`--artifacts s3://BUCKET/PREFIX`).
- `protocol`: the one JSON message a task carries, its idempotency key, and the broker settings both sides
  share (JSON only, late acknowledgement, one task per worker slot, the visibility timeout).
- `worker`: the Celery app and its task, which runs the same pipeline as `grader grade`
  (`grader.pipeline.grade_submission`) on the worker's own backend and caches.
- `coordinator`: sends a batch, follows its progress, writes the results into `--out`, and cancels on Ctrl-C.
"""
