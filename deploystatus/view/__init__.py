"""The view store in Redis: key layout, client, scripts, change messages and their
subscription, generations, the rebuild lease. The one place that knows Redis; the projector
writes through it and the API reads through it."""
