"""A small, strict OData V2 reader (standard library + lxml), independent of pyodata.

It parses EDMX, checks that the model is internally consistent, and checks verbose-JSON entities against
their EDM types. It is deliberately written from the OData V2 / SAP Gateway rules, not from any client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

EDMX_NS = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM_NAMESPACES = (
    "http://schemas.microsoft.com/ado/2008/09/edm",
    "http://schemas.microsoft.com/ado/2009/11/edm",
    "http://schemas.microsoft.com/ado/2007/05/edm",
    "http://schemas.microsoft.com/ado/2006/04/edm",
)
M_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
SAP_NS = "http://www.sap.com/Protocols/SAPData"

PRIMITIVES = {
    "Edm.Binary",
    "Edm.Boolean",
    "Edm.Byte",
    "Edm.DateTime",
    "Edm.DateTimeOffset",
    "Edm.Decimal",
    "Edm.Double",
    "Edm.Guid",
    "Edm.Int16",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.SByte",
    "Edm.Single",
    "Edm.String",
    "Edm.Time",
}

DATE_RE = re.compile(r"^/Date\(-?\d+\)/$")
DATETIMEOFFSET_RE = re.compile(r"^/Date\(-?\d+(?:[+-]\d{4})?\)/$")
TIME_RE = re.compile(r"^PT(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?$")
INT_STRING_RE = re.compile(r"^-?\d+$")
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _sap_attrs(element: Any) -> dict[str, str]:
    prefix = f"{{{SAP_NS}}}"
    return {key[len(prefix) :]: value for key, value in element.attrib.items() if key.startswith(prefix)}


def _int(value: str | None) -> int | None:
    return None if value in (None, "", "Max") else int(value)


@dataclass
class Property:
    name: str
    type: str
    nullable: bool
    max_length: int | None
    precision: int | None
    scale: int | None
    concurrency_mode: str | None
    sap: dict[str, str]


@dataclass
class NavigationProperty:
    name: str
    relationship: str
    from_role: str
    to_role: str


@dataclass
class StructuredType:
    name: str
    namespace: str
    properties: dict[str, Property]
    keys: list[str] = field(default_factory=list)
    navigations: dict[str, NavigationProperty] = field(default_factory=dict)
    sap: dict[str, str] = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass
class AssociationEnd:
    role: str
    type: str
    multiplicity: str


@dataclass
class Association:
    name: str
    namespace: str
    ends: dict[str, AssociationEnd]


@dataclass
class AssociationSet:
    name: str
    association: str
    ends: dict[str, str]  # role -> entity set


@dataclass
class EntitySet:
    name: str
    entity_type: str
    sap: dict[str, str]


@dataclass
class Parameter:
    name: str
    type: str
    nullable: bool | None
    max_length: int | None
    mode: str | None


@dataclass
class FunctionImport:
    name: str
    return_type: str | None
    entity_set: str | None
    http_method: str | None
    parameters: dict[str, Parameter]
    sap: dict[str, str]


@dataclass
class Metadata:
    namespaces: dict[str, str]  # namespace or alias -> namespace
    entity_types: dict[str, StructuredType]  # qualified name
    complex_types: dict[str, StructuredType]
    associations: dict[str, Association]
    container: str
    entity_sets: dict[str, EntitySet]
    association_sets: dict[str, AssociationSet]
    function_imports: dict[str, FunctionImport]

    def qualify(self, name: str) -> str:
        """Resolve an alias-qualified name to its namespace-qualified form."""
        prefix, _, local = name.rpartition(".")
        return f"{self.namespaces.get(prefix, prefix)}.{local}"

    def entity_type_of(self, entity_set: str) -> StructuredType:
        return self.entity_types[self.qualify(self.entity_sets[entity_set].entity_type)]


def _children(element: Any, local: str) -> list[Any]:
    return [child for child in element if isinstance(child.tag, str) and etree.QName(child).localname == local]


def _structured(element: Any, namespace: str) -> StructuredType:
    properties = {}
    for prop in _children(element, "Property"):
        name = prop.get("Name")
        assert name and name not in properties, f"duplicate or unnamed property in {element.get('Name')}"
        properties[name] = Property(
            name=name,
            type=prop.get("Type"),
            nullable=prop.get("Nullable", "true") != "false",
            max_length=_int(prop.get("MaxLength")),
            precision=_int(prop.get("Precision")),
            scale=_int(prop.get("Scale")),
            concurrency_mode=prop.get("ConcurrencyMode"),
            sap=_sap_attrs(prop),
        )
    keys = []
    for key in _children(element, "Key"):
        keys.extend(ref.get("Name") for ref in _children(key, "PropertyRef"))
    navigations = {
        nav.get("Name"): NavigationProperty(
            nav.get("Name"), nav.get("Relationship"), nav.get("FromRole"), nav.get("ToRole")
        )
        for nav in _children(element, "NavigationProperty")
    }
    return StructuredType(element.get("Name"), namespace, properties, keys, navigations, _sap_attrs(element))


def parse_metadata(xml: bytes) -> Metadata:
    """Parse EDMX strictly: wrong root, version or namespaces raise AssertionError."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == f"{{{EDMX_NS}}}Edmx", f"root element is {root.tag}, not edmx:Edmx"
    assert root.get("Version") == "1.0", f"Edmx Version {root.get('Version')!r}, OData V2 needs 1.0"
    data_services = [child for child in root if child.tag == f"{{{EDMX_NS}}}DataServices"]
    assert len(data_services) == 1, "exactly one edmx:DataServices expected"
    version = data_services[0].get(f"{{{M_NS}}}DataServiceVersion")
    assert version in ("1.0", "2.0"), f"m:DataServiceVersion {version!r}"
    schemas = [child for child in data_services[0] if etree.QName(child).localname == "Schema"]
    assert schemas, "no Schema"
    md = Metadata({}, {}, {}, {}, "", {}, {}, {})
    containers = []
    for schema in schemas:
        assert etree.QName(schema).namespace in EDM_NAMESPACES, f"unknown EDM namespace {schema.tag}"
        namespace = schema.get("Namespace")
        assert namespace, "Schema without Namespace"
        md.namespaces[namespace] = namespace
        if schema.get("Alias"):
            md.namespaces[schema.get("Alias")] = namespace
        for element in _children(schema, "EntityType"):
            entity_type = _structured(element, namespace)
            assert entity_type.qualified not in md.entity_types, f"duplicate {entity_type.qualified}"
            md.entity_types[entity_type.qualified] = entity_type
        for element in _children(schema, "ComplexType"):
            complex_type = _structured(element, namespace)
            md.complex_types[complex_type.qualified] = complex_type
        for element in _children(schema, "Association"):
            ends = {
                end.get("Role"): AssociationEnd(end.get("Role"), end.get("Type"), end.get("Multiplicity"))
                for end in _children(element, "End")
            }
            assert len(ends) == 2, f"Association {element.get('Name')} must have two distinct ends"
            md.associations[f"{namespace}.{element.get('Name')}"] = Association(element.get("Name"), namespace, ends)
        containers.extend(_children(schema, "EntityContainer"))
    defaults = [c for c in containers if c.get(f"{{{M_NS}}}IsDefaultEntityContainer") == "true"]
    assert len(defaults) == 1, "exactly one EntityContainer with m:IsDefaultEntityContainer='true' expected"
    container = defaults[0]
    md.container = container.get("Name")
    for element in _children(container, "EntitySet"):
        md.entity_sets[element.get("Name")] = EntitySet(
            element.get("Name"), element.get("EntityType"), _sap_attrs(element)
        )
    for element in _children(container, "AssociationSet"):
        md.association_sets[element.get("Name")] = AssociationSet(
            element.get("Name"),
            element.get("Association"),
            {end.get("Role"): end.get("EntitySet") for end in _children(element, "End")},
        )
    for element in _children(container, "FunctionImport"):
        parameters = {}
        for param in _children(element, "Parameter"):
            nullable = param.get("Nullable")
            parameters[param.get("Name")] = Parameter(
                param.get("Name"),
                param.get("Type"),
                None if nullable is None else nullable != "false",
                _int(param.get("MaxLength")),
                param.get("Mode"),
            )
        md.function_imports[element.get("Name")] = FunctionImport(
            element.get("Name"),
            element.get("ReturnType"),
            element.get("EntitySet"),
            element.get(f"{{{M_NS}}}HttpMethod"),
            parameters,
            _sap_attrs(element),
        )
    return md


def _type_exists(md: Metadata, name: str) -> bool:
    if name in PRIMITIVES:
        return True
    qualified = md.qualify(name)
    return qualified in md.entity_types or qualified in md.complex_types


def consistency_problems(md: Metadata) -> list[str]:
    """Every reference in the model must resolve; returns human-readable problems (empty when sound)."""
    problems: list[str] = []
    for structured in [*md.entity_types.values(), *md.complex_types.values()]:
        for prop in structured.properties.values():
            if not _type_exists(md, prop.type):
                problems.append(f"{structured.qualified}.{prop.name}: unknown type {prop.type}")
    for entity_type in md.entity_types.values():
        if not entity_type.keys:
            problems.append(f"{entity_type.qualified}: no Key")
        for key in entity_type.keys:
            prop = entity_type.properties.get(key)
            if prop is None:
                problems.append(f"{entity_type.qualified}: key {key} is not a property")
            elif prop.nullable:
                problems.append(f"{entity_type.qualified}: key {key} must be Nullable='false'")
        for nav in entity_type.navigations.values():
            where = f"{entity_type.qualified}/{nav.name}"
            association = md.associations.get(md.qualify(nav.relationship))
            if association is None:
                problems.append(f"{where}: Relationship {nav.relationship} does not resolve")
                continue
            from_end = association.ends.get(nav.from_role)
            to_end = association.ends.get(nav.to_role)
            if from_end is None or to_end is None or nav.from_role == nav.to_role:
                problems.append(f"{where}: roles {nav.from_role}/{nav.to_role} not ends of {association.name}")
                continue
            if md.qualify(from_end.type) != entity_type.qualified:
                problems.append(f"{where}: FromRole type {from_end.type} is not {entity_type.qualified}")
            if md.qualify(to_end.type) not in md.entity_types:
                problems.append(f"{where}: ToRole type {to_end.type} does not resolve")
            sets = [
                s for s in md.association_sets.values() if md.qualify(s.association) == md.qualify(nav.relationship)
            ]
            if not sets:
                problems.append(f"{where}: no AssociationSet for {nav.relationship}")
    for association in md.associations.values():
        for end in association.ends.values():
            if md.qualify(end.type) not in md.entity_types:
                problems.append(f"Association {association.name}: end type {end.type} does not resolve")
            if end.multiplicity not in ("1", "0..1", "*"):
                problems.append(f"Association {association.name}: multiplicity {end.multiplicity!r}")
    for entity_set in md.entity_sets.values():
        if md.qualify(entity_set.entity_type) not in md.entity_types:
            problems.append(f"EntitySet {entity_set.name}: EntityType {entity_set.entity_type} does not resolve")
    for association_set in md.association_sets.values():
        association = md.associations.get(md.qualify(association_set.association))
        if association is None:
            problems.append(f"AssociationSet {association_set.name}: {association_set.association} unresolved")
            continue
        if set(association_set.ends) != set(association.ends):
            problems.append(f"AssociationSet {association_set.name}: roles differ from {association.name}")
        for role, set_name in association_set.ends.items():
            entity_set = md.entity_sets.get(set_name)
            if entity_set is None:
                problems.append(f"AssociationSet {association_set.name}: EntitySet {set_name} unresolved")
            elif role in association.ends and md.qualify(entity_set.entity_type) != md.qualify(
                association.ends[role].type
            ):
                problems.append(f"AssociationSet {association_set.name}: {set_name} has the wrong entity type")
    for function in md.function_imports.values():
        where = f"FunctionImport {function.name}"
        if function.http_method not in ("GET", "POST", "PUT", "MERGE", "DELETE"):
            problems.append(f"{where}: m:HttpMethod {function.http_method!r}")
        for param in function.parameters.values():
            if param.type not in PRIMITIVES:
                problems.append(f"{where}: parameter {param.name} has non-primitive type {param.type}")
        if function.return_type is None:
            if function.entity_set is not None:
                problems.append(f"{where}: EntitySet without ReturnType")
            continue
        item = function.return_type
        match = re.fullmatch(r"Collection\((.+)\)", item)
        if match:
            item = match.group(1)
        if not _type_exists(md, item):
            problems.append(f"{where}: ReturnType {function.return_type} does not resolve")
        if md.qualify(item) in md.entity_types:
            entity_set = md.entity_sets.get(function.entity_set or "")
            if entity_set is None:
                problems.append(f"{where}: returns entities but EntitySet {function.entity_set!r} unresolved")
            elif md.qualify(entity_set.entity_type) != md.qualify(item):
                problems.append(f"{where}: EntitySet {entity_set.name} is not of type {item}")
        elif function.entity_set is not None:
            problems.append(f"{where}: EntitySet given for a non-entity return type")
    return problems


def value_problems(prop: Property, value: Any) -> list[str]:
    """Check one JSON value against the verbose-JSON wire format of its EDM type."""
    where = prop.name
    if value is None:
        return [] if prop.nullable else [f"{where}: null in a Nullable='false' property"]
    typ = prop.type
    if typ == "Edm.String":
        if not isinstance(value, str):
            return [f"{where}: Edm.String must be a JSON string, got {value!r}"]
        if prop.max_length is not None and len(value) > prop.max_length:
            return [f"{where}: {value!r} longer than MaxLength {prop.max_length}"]
        return []
    if typ == "Edm.Boolean":
        return [] if isinstance(value, bool) else [f"{where}: Edm.Boolean must be true/false, got {value!r}"]
    if typ in ("Edm.Int16", "Edm.Int32", "Edm.Byte", "Edm.SByte"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {typ} must be a JSON number, got {value!r}"]
    if typ == "Edm.Int64":
        ok = isinstance(value, str) and INT_STRING_RE.match(value)
        return [] if ok else [f"{where}: Edm.Int64 must be a digit string, got {value!r}"]
    if typ == "Edm.Decimal":
        if not isinstance(value, str):
            return [f"{where}: Edm.Decimal must be a JSON string, got {value!r}"]
        scale = prop.scale
        if scale is None:
            pattern = r"^-?\d+(?:\.\d+)?$"
        else:
            pattern = rf"^-?\d+\.\d{{{scale}}}$" if scale else r"^-?\d+$"
        if not re.match(pattern, value):
            return [f"{where}: Edm.Decimal {value!r} does not have scale {scale}"]
        digits = len(value.lstrip("-").replace(".", "").lstrip("0") or "0")
        if prop.precision is not None and digits > prop.precision:
            return [f"{where}: {value!r} exceeds Precision {prop.precision}"]
        return []
    if typ in ("Edm.Double", "Edm.Single"):
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or isinstance(value, str)
        return [] if ok else [f"{where}: {typ} must be a number, got {value!r}"]
    if typ == "Edm.DateTime":
        ok = isinstance(value, str) and DATE_RE.match(value)
        return [] if ok else [f"{where}: Edm.DateTime must be /Date(ms)/, got {value!r}"]
    if typ == "Edm.DateTimeOffset":
        ok = isinstance(value, str) and DATETIMEOFFSET_RE.match(value)
        return [] if ok else [f"{where}: Edm.DateTimeOffset must be /Date(ms+0000)/, got {value!r}"]
    if typ == "Edm.Time":
        ok = isinstance(value, str) and TIME_RE.match(value) and value != "PT"
        return [] if ok else [f"{where}: Edm.Time must be PTnnHnnMnnS, got {value!r}"]
    if typ == "Edm.Guid":
        ok = isinstance(value, str) and GUID_RE.match(value)
        return [] if ok else [f"{where}: Edm.Guid must be a UUID string, got {value!r}"]
    if typ == "Edm.Binary":
        return [] if isinstance(value, str) else [f"{where}: Edm.Binary must be base64 text"]
    return [f"{where}: unchecked type {typ}"]


def structured_problems(md: Metadata, structured: StructuredType, obj: dict[str, Any]) -> list[str]:
    """Every declared property is present with the right wire format; nothing undeclared appears."""
    problems = []
    for prop in structured.properties.values():
        if prop.name not in obj:
            problems.append(f"{structured.name}.{prop.name}: missing from JSON")
            continue
        complex_type = md.complex_types.get(md.qualify(prop.type))
        if complex_type is not None:
            value = obj[prop.name]
            if not isinstance(value, dict):
                problems.append(f"{structured.name}.{prop.name}: complex value must be an object")
            else:
                problems.extend(structured_problems(md, complex_type, value))
            continue
        problems.extend(f"{structured.name}.{p}" for p in value_problems(prop, obj[prop.name]))
    declared = set(structured.properties) | set(structured.navigations) | {"__metadata"}
    undeclared = set(obj) - declared
    if undeclared:
        problems.append(f"{structured.name}: undeclared members {sorted(undeclared)}")
    return problems


def entity_problems(md: Metadata, entity_type: StructuredType, entity: dict[str, Any], root: str) -> list[str]:
    """A verbose-JSON entity: __metadata (uri, type, etag), all properties, deferred navigations."""
    problems = structured_problems(md, entity_type, entity)
    meta = entity.get("__metadata")
    if not isinstance(meta, dict):
        return [*problems, f"{entity_type.name}: __metadata missing"]
    if meta.get("type") != entity_type.qualified:
        problems.append(f"{entity_type.name}: __metadata.type {meta.get('type')!r} != {entity_type.qualified}")
    uri = meta.get("uri")
    if not (isinstance(uri, str) and uri.startswith(root)):
        problems.append(f"{entity_type.name}: __metadata.uri {uri!r} is not absolute under {root}")
    has_etag = any(p.concurrency_mode == "Fixed" for p in entity_type.properties.values())
    if has_etag and not meta.get("etag"):
        problems.append(f"{entity_type.name}: ConcurrencyMode=Fixed but no __metadata.etag")
    for nav in entity_type.navigations.values():
        value = entity.get(nav.name)
        if not isinstance(value, dict):
            problems.append(f"{entity_type.name}/{nav.name}: navigation missing")
            continue
        deferred = value.get("__deferred", {}).get("uri")
        if not (isinstance(deferred, str) and deferred.startswith(root) and deferred.endswith("/" + nav.name)):
            problems.append(f"{entity_type.name}/{nav.name}: bad __deferred {value!r}")
    return problems
