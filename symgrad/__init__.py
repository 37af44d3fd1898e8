"""symgrad: closed-form interpretation of neural-network classifiers with symbolic gradients."""

from .explain import explain as explain
from .pipeline import interpret as interpret
from .result import Result as Result, load_run as load_run
from .importers import from_arrays as from_arrays, from_function as from_function, from_sklearn as from_sklearn
from .importers import from_torch as from_torch
from .config import load_config as load_config
from .data import CONCEPTS as CONCEPTS, Dataset as Dataset, load_csv as load_csv
from .data import make_concept_dataset as make_concept_dataset, split_dataset as split_dataset
from .errors import SymgradError as SymgradError
from .expressions import complexity as complexity, parse_formula as parse_formula
from .model import Classifier as Classifier
from .neurons import NeuronSpec as NeuronSpec, neuron_gradients as neuron_gradients
from .neurons import normalized_gradients as normalized_gradients
from .search import make_backend as make_backend
from .search.base import Entry as Entry, Front as Front, SearchProblem as SearchProblem
from .search.loss import alignment_loss as alignment_loss
from .train import train_classifier as train_classifier

Run = Result  # the name earlier versions gave a loaded run directory

__version__ = "0.1.0"

__all__ = [
    "explain", "interpret", "load_run", "Result",
    "from_arrays", "from_function", "from_sklearn", "from_torch",
    "CONCEPTS", "Classifier", "Dataset", "Entry", "Front", "NeuronSpec", "Run", "SearchProblem",
    "SymgradError", "alignment_loss", "complexity", "load_config", "load_csv",
    "make_backend", "make_concept_dataset", "neuron_gradients", "normalized_gradients", "parse_formula",
    "split_dataset", "train_classifier",
]
