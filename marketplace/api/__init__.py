"""JSON API under /api/v1: Bearer tokens, one error shape."""

from . import cohort_routes, meeting_routes, own_routes, scheduling_routes  # noqa: F401  (register their endpoints on bp)
from .routes import bp

__all__ = ["bp"]
