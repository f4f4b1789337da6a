"""Inference back-ends behind one interface: an async callable that takes the
model input tensor (1, 3, S, S) float32 and returns the mask tensor (1, 1, S, S).
"""
