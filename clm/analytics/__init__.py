"""The pure analytics core: arrays and frames in, numbers out; no Django imports."""
