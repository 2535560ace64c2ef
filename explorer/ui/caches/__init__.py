"""What every session of a server process shares: computed results, the precomputed assets, the shared models."""
