"""System query options ($filter, $orderby, $top, $skip, $skiptoken, $inlinecount, $select, $expand)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mock_sap.edm import EntityType, ServiceModel
from mock_sap.errors import ODataError, bad_request
from mock_sap.filter_parser import compile_filter

Row = tuple[object, ...]

KNOWN_OPTIONS = frozenset(
    {"$filter", "$orderby", "$top", "$skip", "$skiptoken", "$inlinecount", "$select", "$expand", "$format"}
)


@dataclass
class ExpandTree:
    """`$expand=a,a/b,c` as {a: {b: {}}, c: {}}."""

    children: dict[str, ExpandTree] = field(default_factory=dict)


@dataclass
class QueryOptions:
    filter: str | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    top: int | None = None
    skip: int = 0
    skiptoken: int = 0
    inlinecount: bool = False
    select: list[str] | None = None
    expand: ExpandTree = field(default_factory=ExpandTree)


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid value '{raw}' for system query option {name}") from None
    if value < 0:
        raise bad_request(f"Invalid value '{raw}' for system query option {name}")
    return value


def parse_options(args: Mapping[str, str]) -> QueryOptions:
    options = QueryOptions()
    for name in args:
        if name.startswith("$") and name not in KNOWN_OPTIONS and name != "$count":
            raise bad_request(f"System query option '{name}' is not supported", code="/IWBEP/CM_MGW_RT/010")
    if "$filter" in args:
        options.filter = args["$filter"]
    if "$top" in args:
        options.top = _non_negative_int("$top", args["$top"])
    if "$skip" in args:
        options.skip = _non_negative_int("$skip", args["$skip"])
    if "$skiptoken" in args:
        options.skiptoken = _non_negative_int("$skiptoken", args["$skiptoken"])
    count = args.get("$inlinecount")
    if count is not None:
        if count not in ("allpages", "none"):
            raise bad_request(f"Invalid value '{count}' for system query option $inlinecount")
        options.inlinecount = count == "allpages"
    if args.get("$orderby"):
        for part in args["$orderby"].split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
                raise bad_request(f"Invalid $orderby expression '{part.strip()}'")
            options.orderby.append((words[0], len(words) == 2 and words[1] == "desc"))
    if args.get("$select"):
        options.select = [s.strip() for s in args["$select"].split(",") if s.strip()]
    if args.get("$expand"):
        for path in args["$expand"].split(","):
            node = options.expand
            for part in path.strip().split("/"):
                if not part:
                    raise bad_request(f"Invalid $expand expression '{path}'")
                node = node.children.setdefault(part, ExpandTree())
    return options


def validate_shape(model: ServiceModel, entity_type: EntityType, options: QueryOptions) -> None:
    """Reject unknown $select/$expand/$orderby names with Gateway's 400."""
    _validate_expand(model, entity_type, options.expand)
    for path in options.select or []:
        _validate_select_path(model, entity_type, path)
    for name, _ in options.orderby:
        prop = entity_type.by_name.get(name)
        if prop is None:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/004", f"Property '{name}' not found in type '{entity_type.name}'")
        if not prop.sortable:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/021", f"Sorting on property '{name}' is not supported")


def _validate_expand(model: ServiceModel, entity_type: EntityType, tree: ExpandTree) -> None:
    for name, child in tree.children.items():
        nav = entity_type.nav_by_name.get(name)
        if nav is None:
            raise ODataError(
                400, "/IWBEP/CM_MGW_RT/004", f"Navigation property '{name}' not found in type '{entity_type.name}'"
            )
        _validate_expand(model, model.types[nav.target], child)


def _validate_select_path(model: ServiceModel, entity_type: EntityType, path: str) -> None:
    current = entity_type
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part == "*":
            continue
        nav = current.nav_by_name.get(part)
        if nav is not None:
            current = model.types[nav.target]
            continue
        if part in current.by_name and i == len(parts) - 1:
            continue
        raise ODataError(400, "/IWBEP/CM_MGW_RT/004", f"Property '{part}' not found in type '{current.name}'")


def select_tree(select: Sequence[str] | None) -> dict[str, object] | None:
    """`$select=A,to_B/C` as {"A": {}, "to_B": {"C": {}}}; None means everything."""
    if not select:
        return None
    tree: dict[str, object] = {}
    for path in select:
        node = tree
        for part in path.split("/"):
            node = node.setdefault(part, {})  # type: ignore[assignment]
    return tree


@dataclass
class Page:
    rows: list[Row]
    count: int | None  # for $inlinecount=allpages
    next_skiptoken: int | None


def filter_rows(
    entity_type: EntityType,
    rows: Sequence[Row],
    expression: str | None,
    lookup: Callable[[str, object], list[Row] | None] | None = None,
) -> Sequence[Row]:
    """Apply `$filter`; an indexed equality narrows the scan first (100k orders stay fast)."""
    if not expression:
        return rows
    predicate, terms = compile_filter(expression, entity_type)
    candidates: Sequence[Row] = rows
    if lookup is not None:
        for name, value in terms:
            narrowed = lookup(name, value)
            if narrowed is not None:
                candidates = narrowed
                break
    return [row for row in candidates if predicate(row)]


def order_rows(entity_type: EntityType, rows: Sequence[Row], orderby: list[tuple[str, bool]]) -> list[Row]:
    result = list(rows)
    # Stable sorts applied from the last key to the first give a multi-key order with mixed directions.
    for name, descending in reversed(orderby):
        position = entity_type.index[name]
        present = [r for r in result if r[position] is not None]
        missing = [r for r in result if r[position] is None]
        present.sort(key=lambda r: r[position], reverse=descending)  # type: ignore[arg-type,return-value]
        result = missing + present if not descending else present + missing
    return result


def page_rows(rows: Sequence[Row], options: QueryOptions, page_size: int) -> Page:
    """$skip/$top define the window; server paging cuts it into pages addressed by $skiptoken."""
    count = len(rows) if options.inlinecount else None
    start = options.skip
    end = len(rows) if options.top is None else min(len(rows), start + options.top)
    window_start = start + options.skiptoken
    window_end = min(end, window_start + page_size)
    page = list(rows[window_start:window_end]) if window_start < end else []
    next_token = options.skiptoken + page_size if window_end < end else None
    return Page(page, count, next_token)
