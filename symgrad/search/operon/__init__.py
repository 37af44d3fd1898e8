"""Genetic programming with pyoperon (C++ Operon) on the gradient-alignment objective: the
backend and its options (backend), one run (run), the fitness callback and archive (fitness),
trees to sympy (tree). pyoperon is imported only when a run starts."""

from .backend import OperonBackend as OperonBackend
