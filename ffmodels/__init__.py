"""ffmodels: models, training, transfer probe and statistics of the ffrepro pipeline.

The Snakemake workflow calls into this package through thin scripts; everything that computes
a number lives here.
"""
