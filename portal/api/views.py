"""Small helpers shared by the API views of every app."""

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request


def parse(serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any) -> dict:
    """Validate the request body; raises DRF's ValidationError (422 problem) when it is bad."""
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def parse_query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
