"""Helpers the integration tests share, by role: ``publishing`` (events into Kafka),
``topics`` (what the topics hold), ``view`` (the expected and the stored documents),
``processes`` (the projector and the CLI), ``api`` (the API and its tokens), ``waiting``.

Importable as ``support`` because pytest puts ``tests/`` on ``sys.path`` (``pythonpath``
in pyproject.toml).
"""
