"""Loading trained models and running them for embedding/energy requests."""
