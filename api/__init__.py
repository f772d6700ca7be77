"""The read API: ``GET /status/{deployment_id}`` served from precomputed documents."""
