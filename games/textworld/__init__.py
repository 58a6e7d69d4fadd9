"""TextWorld as BALROG plays it: treasure_hunter, the_cooking_game and
coin_collector, each a pool of games generated offline with TextWorld's own
challenge generators (``games.textworld.pool``) and played through Jericho
(``games.textworld.adapter``)."""
