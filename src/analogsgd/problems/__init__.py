"""Objective functions with known optima, used by the convergence studies."""

from .least_squares import LeastSquares
from .trajectory import Trajectory, run_least_squares

__all__ = ["LeastSquares", "Trajectory", "run_least_squares"]
