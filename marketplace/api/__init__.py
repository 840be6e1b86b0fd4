"""JSON API under /api/v1: Bearer tokens, one error shape."""

from . import (  # noqa: F401  (register their endpoints on bp)
    cohort_routes,
    meeting_routes,
    milestone_routes,
    own_routes,
    scheduling_routes,
)
from .routes import bp

__all__ = ["bp"]
