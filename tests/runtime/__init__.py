"""Tests of the runtime package: the API shell and composition roots, against the emulator."""
