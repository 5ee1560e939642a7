"""``extend_schema`` when drf-spectacular is installed, a no-op otherwise (it is optional)."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # checked against drf-spectacular's own signatures
    from drf_spectacular.utils import OpenApiResponse, extend_schema
else:
    try:
        from drf_spectacular.utils import OpenApiResponse, extend_schema
    except ImportError:  # pragma: no cover - exercised only without the extra

        def extend_schema(*args: Any, **kwargs: Any) -> Any:
            return lambda view: view

        def OpenApiResponse(*args: Any, **kwargs: Any) -> Any:  # noqa: N802
            return None


__all__ = ["OpenApiResponse", "extend_schema"]
