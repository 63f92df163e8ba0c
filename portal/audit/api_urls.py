from django.urls import path

from portal.audit import api

urlpatterns = [
    path("audit/", api.AuditList.as_view(), name="api-audit"),
    path("audit/export/", api.AuditExport.as_view(), name="api-audit-export"),
    path("audit/verify/", api.AuditVerify.as_view(), name="api-audit-verify"),
]
