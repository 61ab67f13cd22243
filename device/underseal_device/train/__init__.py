"""Training (PyTorch, the ``[train]`` extra) and calibration of the shipped models.

The camera never imports this package.
"""
