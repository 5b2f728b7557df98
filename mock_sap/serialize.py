"""Verbose OData V2 JSON: entities with __metadata, __deferred links, expansions, feeds and complex values."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mock_sap.edm import ComplexType, EntityType, ServiceModel, format_key_literal, key_predicate, to_json
from mock_sap.query import ExpandTree
from mock_sap.store import Row

Navigator = Callable[[EntityType, Row, str], tuple[str, list[Row]]]


def etag_of(entity_type: EntityType, row: Row) -> str | None:
    """Gateway's weak ETag built from the ConcurrencyMode=Fixed property's literal."""
    if entity_type.etag_position is None:
        return None
    prop = entity_type.properties[entity_type.etag_position]
    return f'W/"{format_key_literal(prop, row[entity_type.etag_position])}"'


class Serializer:
    """Turns rows of one service into JSON structures; `navigate` resolves expansions."""

    def __init__(self, model: ServiceModel, service_root: str, navigate: Navigator) -> None:
        self.model = model
        self.root = service_root.rstrip("/") + "/"
        self.navigate = navigate

    def entity_uri(self, set_name: str, entity_type: EntityType, row: Row) -> str:
        return f"{self.root}{set_name}({key_predicate(entity_type, row)})"

    def entity(
        self,
        set_name: str,
        row: Row,
        select: dict[str, object] | None = None,
        expand: ExpandTree | None = None,
    ) -> dict[str, object]:
        entity_type = self.model.type_of_set(set_name)
        uri = self.entity_uri(set_name, entity_type, row)
        metadata: dict[str, object] = {"id": uri, "uri": uri, "type": self.model.qualified(entity_type.name)}
        etag = etag_of(entity_type, row)
        if etag is not None:
            metadata["etag"] = etag
        result: dict[str, object] = {"__metadata": metadata}
        select_all = select is None or "*" in select
        for position, prop in enumerate(entity_type.properties):
            if select_all or prop.name in select:  # type: ignore[operator]
                result[prop.name] = to_json(prop, row[position])
        expand_children = expand.children if expand is not None else {}
        for nav in entity_type.navigations:
            if nav.name in expand_children:
                nested_select = select.get(nav.name) if select is not None else None
                target_set, rows = self.navigate(entity_type, row, nav.name)
                child_tree = expand_children[nav.name]
                child_select = nested_select or None  # an empty {} means "all" of the expanded entity
                if nav.to_many:
                    result[nav.name] = {
                        "results": [self.entity(target_set, r, child_select, child_tree) for r in rows]  # type: ignore[arg-type]
                    }
                else:
                    result[nav.name] = (
                        self.entity(target_set, rows[0], child_select, child_tree) if rows else None  # type: ignore[arg-type]
                    )
            elif select_all or nav.name in select:  # type: ignore[operator]
                result[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
        return result

    def feed(
        self,
        set_name: str,
        rows: Sequence[Row],
        select: dict[str, object] | None,
        expand: ExpandTree | None,
        count: int | None,
        next_link: str | None,
    ) -> dict[str, object]:
        body: dict[str, object] = {}
        if count is not None:
            body["__count"] = str(count)
        body["results"] = [self.entity(set_name, row, select, expand) for row in rows]
        if next_link is not None:
            body["__next"] = next_link
        return {"d": body}

    def complex_value(self, complex_type: ComplexType, values: dict[str, object]) -> dict[str, object]:
        result: dict[str, object] = {"__metadata": {"type": self.model.qualified(complex_type.name)}}
        for prop in complex_type.properties:
            result[prop.name] = to_json(prop, values.get(prop.name))
        return result
