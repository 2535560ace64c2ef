"""What the engine's workers run: training, the experiments, and the counting job that checks an engine."""
