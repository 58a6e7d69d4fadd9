"""Crafter for balrogweb: the BALROG ``crafter`` env (one ``default`` task).

Importing this package first settles which backend computes crafter's
terrain noise (see ``noise``), because opensimplex reads that choice when it
is first imported, and every module here imports crafter after this runs.
"""

from games.crafter.noise import load_noise_backend

NOISE_BACKEND: str = load_noise_backend()
