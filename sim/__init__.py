"""The simulated cluster: an API server emulator and a noisy-neighbour interference model."""
