"""Would leave a mark on the host if anything ran it (a build of this project, an sdist install)."""

with open("@@HOST_CANARY@@", "w") as canary:
    canary.write("setup.py ran on the host")
