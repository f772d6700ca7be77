"""deploystatus: the status read model of a deployment platform (application wiring: settings,
CLI, Redis layout, embedded dev services)."""
