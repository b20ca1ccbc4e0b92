"""ffmodels: models, training, transfer probe and statistics of the ffrepro pipeline.

The Snakemake workflow calls into this package through thin scripts; everything that computes
a number lives here. "PROTOCOL section N" in the code means section N of docs/protocol.md.
"""
