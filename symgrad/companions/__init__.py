"""What users try today, side by side with symgrad's formula on the same network and points.

Surrogates fitted to the network's labels (a decision tree, a logistic regression), one-input
sensitivity curves, and a PReLU network collapsed into linear rules; ``companion_table`` puts
them in one table with the formula. scikit-learn is needed for the surrogates only.
"""

from .collapse import CollapsedRules as CollapsedRules, collapse as collapse
from .compare import COMPANIONS as COMPANIONS, companion_names as companion_names, run_companions as run_companions
from .prelu import PReLUNetwork as PReLUNetwork, train_prelu as train_prelu, xor_example as xor_example
from .table import companion_table as companion_table, format_table as format_table
