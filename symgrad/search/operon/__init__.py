"""Genetic programming with pyoperon (C++ Operon) on the gradient-alignment objective: the
backend and the front from a run's archive (backend), its validated options and operator names
(options), one run (run), the fitness callback and archive (fitness), trees to sympy (tree).
Each module imports only those after it in this list. pyoperon is imported only when a run
starts."""

from .backend import OperonBackend as OperonBackend
