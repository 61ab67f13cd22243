"""Training (PyTorch, the ``[train]`` extra). The camera never imports this package."""
