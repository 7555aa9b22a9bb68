"""What goodnet's stages share: files in and out, the net's graph, inference, training,
metrics, statistics and figures (the package docstring of goodnet maps them)."""
