"""What tests share, in one place: personas (``personas``), the browser
(``browser``), websocket conversations (``websocket``), the settings files
(``settings_files``). Tests import helpers from here, never from another test
module, and never from bench/ (the benchmarks use this package's client, not the other way round).

Which tests may touch the database is enforced by pytest-django: a test
without the ``django_db`` mark (or the ``db`` fixture) that reaches for the
database fails ("Database access not allowed").
"""
