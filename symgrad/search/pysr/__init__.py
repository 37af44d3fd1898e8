"""The optional PySR backend (SymbolicRegression.jl): the backend (backend) and the objective's
Julia source and the lookup of Julia (julia). Neither imports PySR or starts Julia on import."""

from .backend import PySRBackend as PySRBackend
