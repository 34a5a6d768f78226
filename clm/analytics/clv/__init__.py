"""Customer lifetime value: the seeds' formulas and the BG/NBD, Gamma-Gamma and sBG models."""
