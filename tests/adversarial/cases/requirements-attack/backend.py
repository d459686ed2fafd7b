"""A local PEP 517 build backend: building this project would run it."""

with open("@@HOST_CANARY@@", "w") as canary:
    canary.write("the build backend ran on the host")
