"""One module per pipeline job; the workflow scripts only unpack Snakemake's arguments.

Each job module imports only the code its results depend on: the workflow derives each job's
code digest from these imports (ffmodels.codedeps), so keep imports specific.
"""
