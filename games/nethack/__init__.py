"""NLE-family games: NetHack (``nle``) and MiniHack (``minihack``)."""
