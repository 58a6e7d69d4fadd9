"""Baba Is AI: the rule-puzzle benchmark of BALROG, on an engine of our own.

The game follows the Baba Is AI environment (arXiv 2407.13729, the
``baba`` package BALROG evaluates): a walled grid of objects and word tiles
where three words in a row, ``NOUN is PROPERTY``, form a rule that changes
how objects behave. ``engine`` holds the grid and rules, ``levels`` the
generators of BALROG's 40 task families (each with a verified solution),
``planner`` the search that finds those solutions, ``render`` the PNG and
``adapter`` the GameAdapter. The "balrog" protocol plays the reference's own
rules instead: ``reference_world`` (the package's world, quirks included),
``reference_levels`` (its generators, draw for draw), ``reference_render``
and ``reference`` (the adapter and BALROG's texts).
"""
