"""The projector: folds deployment events from Kafka into status documents in Redis."""
