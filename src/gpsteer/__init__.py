"""gpsteer."""
