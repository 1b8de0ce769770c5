"""Compound scaling of any network (EfficientNet's depth, width and resolution coefficients)."""
