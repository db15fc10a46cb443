"""Celery task of the organisation export (``checkins.tasks`` imports it for registration)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from checkins import portability
from checkins.models import OrgExport, ReportStatus
from okrapp.models import Organization

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def build_org_export(org_id: int, export_id: int) -> str:
    """Build and store one archive. A redelivered message for a finished export does nothing."""
    with transaction.atomic():
        export = OrgExport.objects.for_org(org_id).select_for_update().filter(pk=export_id).first()
        if export is None:
            return "gone"
        if export.status == ReportStatus.READY:
            return "done"
        export.status = ReportStatus.BUILDING
        export.save(update_fields=["status"])
    try:
        org = Organization.objects.get(pk=org_id)
        content = portability.dumps(portability.build_archive(org))
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        export.file.save(f"{org.slug}-{stamp}-{export.pk}.json", ContentFile(content), save=False)
        export.size = len(content)
        export.status = ReportStatus.READY
        export.finished_at = timezone.now()
        export.save(update_fields=["file", "size", "status", "finished_at"])
    except Exception as exc:
        log.exception("export %s of organisation %s failed", export_id, org_id)
        OrgExport.objects.for_org(org_id).filter(pk=export_id).update(
            status=ReportStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return "failed"
    return "ready"
