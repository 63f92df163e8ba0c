from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from portal.errors import NotFound
from prompts import selectors


def _prompt_or_404(request: HttpRequest, namespace: str, name: str):
    try:
        return selectors.prompt_get(user=request.user, namespace=namespace, name=name)
    except NotFound as exc:
        raise Http404(exc.detail) from exc


@login_required
def prompt_detail(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt_or_404(request, namespace, name)
    deployed = selectors.prompt_deployments(prompt=prompt)
    environments_by_version: dict[int, list[str]] = {}
    for row in deployed:
        if row.deployment:
            environments_by_version.setdefault(row.deployment.version_id, []).append(
                row.environment.slug
            )
    versions = [
        (version, environments_by_version.get(version.pk, []))
        for version in selectors.prompt_versions(prompt=prompt)
    ]
    return render(
        request,
        "prompts/prompt_detail.html",
        {"prompt": prompt, "deployments": deployed, "versions": versions},
    )


@login_required
def version_detail(request: HttpRequest, namespace: str, name: str, number: int) -> HttpResponse:
    prompt = _prompt_or_404(request, namespace, name)
    try:
        version = selectors.prompt_version_get(prompt=prompt, number=number)
        against_number = request.GET.get("against")
        if against_number is not None and against_number.isdigit():
            against = selectors.prompt_version_get(prompt=prompt, number=int(against_number))
        else:
            against = version.parent
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    diff = selectors.version_diff(old=against, new=version) if against else None
    return render(
        request,
        "prompts/version_detail.html",
        {
            "prompt": prompt,
            "version": version,
            "against": against,
            "diff": diff,
            "other_versions": selectors.prompt_versions(prompt=prompt).exclude(pk=version.pk),
        },
    )
