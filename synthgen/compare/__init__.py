"""``synthgen compare``: runs of one recipe with different models, side by side."""
