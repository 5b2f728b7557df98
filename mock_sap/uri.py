"""Resource paths: `Set(key)/nav/$count` segments, key predicates and function-import parameters."""

from __future__ import annotations

from dataclasses import dataclass

from mock_sap.edm import EntityType, ValueError_, coerce_literal, parse_literal
from mock_sap.errors import ODataError, bad_request, not_found_segment


@dataclass(frozen=True)
class Segment:
    name: str
    key: str | None  # raw text inside the parentheses, None when there are none


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    in_quote = False
    for char in text:
        if char == "'":
            in_quote = not in_quote  # a doubled '' toggles twice, which is what we want
        if char == separator and not in_quote:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def split_path(path: str) -> list[Segment]:
    """Split `A('1')/to_B` into segments (the path is already percent-decoded)."""
    segments: list[Segment] = []
    for raw in _split_outside_quotes(path.strip("/"), "/"):
        if not raw:
            continue
        if raw.endswith(")") and "(" in raw:
            name, _, rest = raw.partition("(")
            segments.append(Segment(name, rest[:-1]))
        else:
            segments.append(Segment(raw, None))
    return segments


def parse_key(entity_type: EntityType, raw: str, segment_name: str) -> tuple[object, ...]:
    """Key predicate -> internal key tuple in key order; 400 for malformed or mistyped keys."""
    values: dict[str, object] = {}
    parts = _split_outside_quotes(raw, ",")
    try:
        if len(parts) == 1 and "=" not in _strip_quoted(parts[0]):
            if len(entity_type.keys) != 1:
                raise _invalid_key(segment_name)
            name = entity_type.keys[0]
            kind, value = parse_literal(parts[0].strip())
            values[name] = coerce_literal(entity_type.by_name[name], kind, value)
        else:
            for part in parts:
                name, sep, literal = part.partition("=")
                name = name.strip()
                if not sep or name not in entity_type.keys or name in values:
                    raise _invalid_key(segment_name)
                kind, value = parse_literal(literal.strip())
                values[name] = coerce_literal(entity_type.by_name[name], kind, value)
    except ValueError_ as exc:
        raise _invalid_key(segment_name) from exc
    if set(values) != set(entity_type.keys):
        raise _invalid_key(segment_name)
    return tuple(values[name] for name in entity_type.keys)


def _strip_quoted(text: str) -> str:
    return "".join(part for i, part in enumerate(text.split("'")) if i % 2 == 0)


def _invalid_key(segment: str) -> ODataError:
    return bad_request(f"Invalid key predicate in segment '{segment}'", code="/IWBEP/CM_MGW_RT/014")


__all__ = ["Segment", "split_path", "parse_key", "not_found_segment"]
