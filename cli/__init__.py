"""The command line, the demo and the sample data: the top layer, on everything else."""
