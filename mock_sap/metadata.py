"""`$metadata`: EDMX 1.0 / OData V2 XML generated from the service's EDM model, with sap: annotations."""

from __future__ import annotations

from lxml import etree

from mock_sap.edm import EntityType, NavigationProperty, Property, ServiceModel

EDMX = "http://schemas.microsoft.com/ado/2007/06/edmx"
M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
SAP = "http://www.sap.com/Protocols/SAPData"
EDM = "http://schemas.microsoft.com/ado/2008/09/edm"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def _sap(element: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        element.set(f"{{{SAP}}}{name}", value)


def _false_flags(element: etree._Element, **flags: bool) -> None:
    # SAP writes only the flags that differ from the default "true".
    for name, value in flags.items():
        if not value:
            _sap(element, name, "false")


def _property(parent: etree._Element, prop: Property, annotate: bool) -> None:
    element = etree.SubElement(parent, f"{{{EDM}}}Property", Name=prop.name, Type=prop.type)
    if not prop.nullable:
        element.set("Nullable", "false")
    if prop.max_length is not None:
        element.set("MaxLength", str(prop.max_length))
    if prop.precision is not None:
        element.set("Precision", str(prop.precision))
    if prop.scale is not None:
        element.set("Scale", str(prop.scale))
    if prop.concurrency_fixed:
        element.set("ConcurrencyMode", "Fixed")
    if not (annotate and prop.emit_sap):
        return
    _sap(element, "display-format", prop.display_format)
    _sap(element, "text", prop.text)
    _sap(element, "unit", prop.unit)
    _sap(element, "label", prop.label)
    _sap(element, "quickinfo", prop.quickinfo)
    _false_flags(
        element,
        creatable=prop.creatable,
        updatable=prop.updatable,
        sortable=prop.sortable,
        filterable=prop.filterable,
    )
    _sap(element, "semantics", prop.semantics)


def _roles(nav: NavigationProperty) -> tuple[str, str]:
    from_role = nav.from_role or f"FromRole_{nav.association}"
    to_role = nav.to_role or f"ToRole_{nav.association}"
    return (to_role, from_role) if nav.reverse else (from_role, to_role)


def _entity_type(schema: etree._Element, model: ServiceModel, entity_type: EntityType) -> None:
    annotate = model.emit_sap and entity_type.emit_sap
    element = etree.SubElement(schema, f"{{{EDM}}}EntityType", Name=entity_type.name)
    if annotate:
        _sap(element, "label", entity_type.label)
        _sap(element, "content-version", "1")
    key = etree.SubElement(element, f"{{{EDM}}}Key")
    for name in entity_type.keys:
        etree.SubElement(key, f"{{{EDM}}}PropertyRef", Name=name)
    for prop in entity_type.properties:
        _property(element, prop, annotate)
    for nav in entity_type.navigations:
        from_role, to_role = _roles(nav)
        etree.SubElement(
            element,
            f"{{{EDM}}}NavigationProperty",
            Name=nav.name,
            Relationship=model.qualified(nav.association),
            FromRole=from_role,
            ToRole=to_role,
        )


def _associations(model: ServiceModel) -> list[tuple[str, EntityType, NavigationProperty]]:
    """One association per forward navigation (back-navigations reuse their partner's)."""
    found: dict[str, tuple[str, EntityType, NavigationProperty]] = {}
    for entity_type in model.entity_types:
        for nav in entity_type.navigations:
            if not nav.reverse:
                found.setdefault(nav.association, (nav.association, entity_type, nav))
    return list(found.values())


def build_metadata(model: ServiceModel) -> bytes:
    """Serialize the model as SAP Gateway writes `$metadata`."""
    nsmap = {"edmx": EDMX, "m": M, "sap": SAP} if model.emit_sap else {"edmx": EDMX, "m": M}
    root = etree.Element(f"{{{EDMX}}}Edmx", nsmap=nsmap, Version="1.0")
    services = etree.SubElement(root, f"{{{EDMX}}}DataServices")
    services.set(f"{{{M}}}DataServiceVersion", "2.0")
    schema = etree.SubElement(services, f"{{{EDM}}}Schema", nsmap={None: EDM}, Namespace=model.namespace)
    schema.set(f"{{{XML_NS}}}lang", "en")
    if model.emit_sap and model.schema_version:
        _sap(schema, "schema-version", model.schema_version)

    for entity_type in model.entity_types:
        _entity_type(schema, model, entity_type)
    for complex_type in model.complex_types:
        element = etree.SubElement(schema, f"{{{EDM}}}ComplexType", Name=complex_type.name)
        for prop in complex_type.properties:
            _property(element, prop, model.emit_sap)

    associations = _associations(model)
    for name, source, nav in associations:
        element = etree.SubElement(schema, f"{{{EDM}}}Association", Name=name)
        if model.emit_sap:
            _sap(element, "content-version", "1")
        from_role, to_role = _roles(nav)
        etree.SubElement(element, f"{{{EDM}}}End", Type=model.qualified(source.name), Multiplicity="1", Role=from_role)
        etree.SubElement(
            element,
            f"{{{EDM}}}End",
            Type=model.qualified(nav.target),
            Multiplicity="*" if nav.to_many else "1",
            Role=to_role,
        )

    container = etree.SubElement(schema, f"{{{EDM}}}EntityContainer", Name=model.container)
    container.set(f"{{{M}}}IsDefaultEntityContainer", "true")
    if model.emit_sap:
        _sap(container, "supported-formats", "atom json xlsx")
    for entity_set in model.entity_sets:
        element = etree.SubElement(
            container,
            f"{{{EDM}}}EntitySet",
            Name=entity_set.name,
            EntityType=model.qualified(entity_set.entity_type),
        )
        if model.emit_sap:
            _false_flags(
                element,
                creatable=entity_set.creatable,
                updatable=entity_set.updatable,
                deletable=entity_set.deletable,
                pageable=entity_set.pageable,
                addressable=entity_set.addressable,
            )
            _sap(element, "content-version", "1")
    for name, source, nav in associations:
        element = etree.SubElement(container, f"{{{EDM}}}AssociationSet", Name=name, Association=model.qualified(name))
        if model.emit_sap:
            _false_flags(element, creatable=False, updatable=False, deletable=False)
            _sap(element, "content-version", "1")
        from_role, to_role = _roles(nav)
        etree.SubElement(element, f"{{{EDM}}}End", EntitySet=model.set_of_type[source.name].name, Role=from_role)
        etree.SubElement(element, f"{{{EDM}}}End", EntitySet=model.set_of_type[nav.target].name, Role=to_role)
    for function in model.function_imports:
        element = etree.SubElement(container, f"{{{EDM}}}FunctionImport", Name=function.name)
        if function.return_type:
            element.set("ReturnType", function.return_type)
        if function.entity_set:
            element.set("EntitySet", function.entity_set)
        element.set(f"{{{M}}}HttpMethod", function.http_method)
        if model.emit_sap:
            _sap(element, "label", function.label)
            _sap(element, "action-for", function.action_for)
        for param in function.parameters:
            p = etree.SubElement(element, f"{{{EDM}}}Parameter", Name=param.name, Type=param.type, Mode="In")
            if param.max_length is not None:
                p.set("MaxLength", str(param.max_length))
            if param.precision is not None:
                p.set("Precision", str(param.precision))
            if param.scale is not None:
                p.set("Scale", str(param.scale))
            if param.nullable is not None:
                p.set("Nullable", "true" if param.nullable else "false")
            if model.emit_sap:
                _sap(p, "label", param.label)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def service_document(model: ServiceModel, base_url: str) -> dict[str, object]:
    """The JSON service document (`GET <root>/`)."""
    return {"d": {"EntitySets": [s.name for s in model.entity_sets]}}
