"""Data in: built-in known-answer concepts and user tables."""

from .concepts import CONCEPTS as CONCEPTS, Concept as Concept, make_concept_dataset as make_concept_dataset
from .tables import Dataset as Dataset, load_csv as load_csv, split_dataset as split_dataset
