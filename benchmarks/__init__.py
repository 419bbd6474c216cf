"""Benchmarks of gpsteer against its anchors (gpCAM 8.6.1) and GP-free baselines."""
