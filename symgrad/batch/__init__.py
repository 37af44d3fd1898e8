"""Batches: many neurons, configs and seeds in one command (``python -m symgrad.batch BATCH.yaml``).

driver (the command and the loop), items (networks and items), grid (batch files expanded into
items), plan (plan.json, for a resume without JAX), execution
(this process, local workers or Dask), work (what a worker does), summary (the batch folder, its
state and summaries), families (the chosen formulas of seeds grouped by decision boundary),
explorer (a batch folder's items in Jupyter). Nothing here imports JAX until an
item needs it.
"""

from .driver import BatchOutcome as BatchOutcome, main as main, run_batch as run_batch
from .families import Family as Family, families_of as families_of, same_boundary as same_boundary
from .grid import load_batch as load_batch
from .items import Batch as Batch, Item as Item
