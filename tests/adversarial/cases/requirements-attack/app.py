"""A plain app: the attack is in requirements.txt, setup.py and the build backend."""

from probe_server import serve

serve()
