"""Rebuilding a generation of the view by replaying the log, and checking one against it."""
