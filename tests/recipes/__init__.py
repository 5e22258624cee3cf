"""Tests of synthgen/recipes (the nl2dot recipe)."""
