"""The sparse term-library fit: the backend and its fit loop (backend), the term library and its
gradients (terms), the search over supports (support)."""

from .backend import LibraryBackend as LibraryBackend
