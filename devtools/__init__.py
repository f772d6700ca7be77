"""Services for development and tests: the embedded broker and Redis (the `[dev]` extra)."""
