"""Training: TrainConfig and History (torch-free), the lock-step trainer and its recorders, and runs on disk."""
