"""Memory bomb at import: allocates and touches 16 MiB chunks until the sandbox stops it."""

chunks = []
while True:
    chunk = bytearray(16 * 1024 * 1024)
    for offset in range(0, len(chunk), 4096):
        chunk[offset] = 1  # touch every page, so the memory is really used
    chunks.append(chunk)
    print(f"holding {len(chunks) * 16} MiB", flush=True)
