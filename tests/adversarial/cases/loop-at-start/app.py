"""An infinite loop at start: the app never listens."""

print("spinning for ever before listening", flush=True)
while True:
    pass
