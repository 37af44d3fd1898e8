"""The network: the classifier held as plain dense layers (model), its Optax training (train),
and networks trained elsewhere turned into it (importers). Public names live on ``symgrad``."""
