from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from portal.validation import check_json_value


class StrictJSONParser(JSONParser):
    """JSON that every part of the portal can store and walk: no NUL characters, no lone
    surrogates, no nesting beyond MAX_JSON_DEPTH (422 naming the problem). A body nested so
    deep that the decoder itself gives up is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error: the body nests too deeply.") from exc
        check_json_value(data)
        return data
