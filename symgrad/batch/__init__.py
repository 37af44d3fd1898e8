"""Batches: many neurons, configs and seeds in one command (``python -m symgrad.batch BATCH.yaml``).

driver (the command and the loop), grid (batch files expanded into items and the plan), execution
(this process, local workers or Dask), work (what a worker does), summary (the batch folder, its
state and summaries). Nothing here imports JAX until an item needs it.
"""

from .driver import BatchOutcome as BatchOutcome, main as main, run_batch as run_batch
from .grid import Batch as Batch, Item as Item, load_batch as load_batch
