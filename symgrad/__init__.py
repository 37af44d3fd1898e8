"""symgrad: closed-form interpretation of neural-network classifiers with symbolic gradients."""

from .config import load_config as load_config
from .data import CONCEPTS as CONCEPTS, Dataset as Dataset, load_csv as load_csv
from .data import make_concept_dataset as make_concept_dataset, split_dataset as split_dataset
from .errors import SymgradError as SymgradError
from .explain import Explanation as Explanation, explain as explain
from .expressions import complexity as complexity, parse_formula as parse_formula
from .model import Classifier as Classifier
from .neurons import NeuronSpec as NeuronSpec, neuron_gradients as neuron_gradients
from .neurons import normalized_gradients as normalized_gradients
from .pipeline import interpret as interpret
from .runs import Run as Run, load_run as load_run
from .search import make_backend as make_backend
from .search.base import Entry as Entry, Front as Front, SearchProblem as SearchProblem
from .search.loss import alignment_loss as alignment_loss
from .train import train_classifier as train_classifier

__version__ = "0.1.0"

__all__ = [
    "CONCEPTS", "Classifier", "Dataset", "Entry", "Explanation", "Front", "NeuronSpec", "Run", "SearchProblem",
    "SymgradError", "alignment_loss", "complexity", "explain", "interpret", "load_config", "load_csv", "load_run",
    "make_backend", "make_concept_dataset", "neuron_gradients", "normalized_gradients", "parse_formula",
    "split_dataset", "train_classifier",
]
