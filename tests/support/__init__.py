"""What tests share, in one place, by concern:

- ``personas``: the one Persona (a user, their client and session cookie);
- ``games``: the task the tests play most;
- ``pages``: the pages through Django's test client (and a streamed export's body);
- ``websocket``: conversations through the full ASGI application (hello, actions);
- ``wsclient``: a plain websocket client for a real server process (the benchmarks' too);
- ``servers``: ``manage.py serve`` and a private redis-server as real processes;
- ``browser`` (+ ``fixtures_browser``): Chromium through Playwright against the real server;
- ``workers`` (+ ``fixtures_workers``), ``postgres``: real Celery workers, the test database's URL;
- ``authz``: the authorization matrix's routes, levels and world; ``hostile``: the XSS world
  and every page filled with it;
- ``replays``, ``crafter_bots``: games played, recorded and replayed in a fresh process;
- ``livefeed``, ``stats_simulation``, ``settings_files``: the live-feed harness, the coverage
  simulation, the repository's settings and example environment;
- ``outage``: the fake database ops.outage's breaker probes (tests/conftest.py's ``breaker``);
- ``runs``: an evaluation run's planned episodes, as the agents tests read them back;
- ``annotation_world``: the annotation groups, personas, model-played episodes and queue world;
- ``leaderboard_data``: runs, episodes and players built directly for the leaderboard;
- ``reference_data``: the reference's staged data (golden file, logs), skipped when absent.

Fixtures shared across directories are ``fixtures_*`` modules: registered for every test by
tests/conftest.py's ``pytest_plugins`` (``fixtures_browser``, ``fixtures_workers``), or
imported by the conftest.py of each directory they serve (``fixtures_play``: play and ops,
so its autouse ``fresh_play_state`` runs there only). A directory's own fixtures are in its
conftest.py, which holds fixtures and nothing a test imports.
Tests import helpers from here, never from another test module (a test module's names are
its own), never from a conftest.py, and never from bench/ (the benchmarks use this package,
not the other way round); only a conftest.py imports a ``fixtures_*`` module:
tests/test_import_rules.py enforces all of it.

Which tests may touch the database is enforced by pytest-django: a test
without the ``django_db`` mark (or the ``db`` fixture) that reaches for the
database fails ("Database access not allowed").
"""
