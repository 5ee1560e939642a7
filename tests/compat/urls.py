from django.conf import settings

from .libraries import PROJECTS

_project = PROJECTS[settings.COMPAT_PROJECT]
urlpatterns = _project.legacy_urls() if settings.COMPAT_SIDE == "legacy" else _project.migrated_urls()
