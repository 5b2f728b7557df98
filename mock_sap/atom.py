"""Atom XML for entity and feed reads: Gateway's default representation when JSON is not asked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lxml import etree

from mock_sap.edm import (
    EntityType,
    Property,
    ServiceModel,
    datetime_from_ms,
    format_decimal,
    format_time,
    key_predicate,
)
from mock_sap.serialize import etag_of
from mock_sap.store import Row

ATOM = "http://www.w3.org/2005/Atom"
M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
D = "http://schemas.microsoft.com/ado/2007/08/dataservices"
SCHEME = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"
RELATED = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/"
NSMAP = {None: ATOM, "m": M, "d": D}
ATOM_FEED = "application/atom+xml;type=feed; charset=utf-8"
ATOM_ENTRY = "application/atom+xml;type=entry; charset=utf-8"


def _text(prop: Property, value: object) -> str:
    kind = prop.type
    if kind == "Edm.Decimal":
        return format_decimal(value, prop.scale or 0)  # type: ignore[arg-type]
    if kind == "Edm.DateTime":
        return datetime_from_ms(value).strftime("%Y-%m-%dT%H:%M:%S")  # type: ignore[arg-type]
    if kind == "Edm.DateTimeOffset":
        return datetime_from_ms(value).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[arg-type]
    if kind == "Edm.Time":
        return format_time(value)  # type: ignore[arg-type]
    if kind == "Edm.Boolean":
        return "true" if value else "false"
    return str(value)


def _entry(parent: etree._Element | None, model: ServiceModel, root: str, set_name: str, row: Row) -> etree._Element:
    entity_type: EntityType = model.type_of_set(set_name)
    relative = f"{set_name}({key_predicate(entity_type, row)})"
    tag = f"{{{ATOM}}}entry"
    entry = etree.SubElement(parent, tag) if parent is not None else etree.Element(tag, nsmap=NSMAP)
    etag = etag_of(entity_type, row)
    if etag is not None:
        entry.set(f"{{{M}}}etag", etag)
    etree.SubElement(entry, f"{{{ATOM}}}id").text = root + relative
    etree.SubElement(entry, f"{{{ATOM}}}title", type="text").text = relative
    etree.SubElement(entry, f"{{{ATOM}}}updated").text = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(entry, f"{{{ATOM}}}category", term=model.qualified(entity_type.name), scheme=SCHEME)
    etree.SubElement(entry, f"{{{ATOM}}}link", href=relative, rel="edit", title=entity_type.name)
    for nav in entity_type.navigations:
        etree.SubElement(
            entry,
            f"{{{ATOM}}}link",
            href=f"{relative}/{nav.name}",
            rel=RELATED + nav.name,
            type="application/atom+xml;type=feed" if nav.to_many else "application/atom+xml;type=entry",
            title=nav.name,
        )
    content = etree.SubElement(entry, f"{{{ATOM}}}content", type="application/xml")
    properties = etree.SubElement(content, f"{{{M}}}properties")
    for position, prop in enumerate(entity_type.properties):
        element = etree.SubElement(properties, f"{{{D}}}{prop.name}")
        if prop.type != "Edm.String":
            element.set(f"{{{M}}}type", prop.type)
        value = row[position]
        if value is None:
            element.set(f"{{{M}}}null", "true")
        else:
            element.text = _text(prop, value)
    return entry


def atom_entry(model: ServiceModel, root: str, set_name: str, row: Row) -> bytes:
    entry = _entry(None, model, root.rstrip("/") + "/", set_name, row)
    entry.set("{http://www.w3.org/XML/1998/namespace}base", root.rstrip("/") + "/")
    return bytes(etree.tostring(entry, xml_declaration=True, encoding="utf-8"))


def atom_feed(
    model: ServiceModel, root: str, set_name: str, rows: Sequence[Row], count: int | None, next_link: str | None
) -> bytes:
    base = root.rstrip("/") + "/"
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=NSMAP)
    feed.set("{http://www.w3.org/XML/1998/namespace}base", base)
    etree.SubElement(feed, f"{{{ATOM}}}id").text = base + set_name
    etree.SubElement(feed, f"{{{ATOM}}}title", type="text").text = set_name
    etree.SubElement(feed, f"{{{ATOM}}}updated").text = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    author = etree.SubElement(feed, f"{{{ATOM}}}author")
    etree.SubElement(author, f"{{{ATOM}}}name")
    etree.SubElement(feed, f"{{{ATOM}}}link", href=set_name, rel="self", title=set_name)
    if count is not None:
        etree.SubElement(feed, f"{{{M}}}count").text = str(count)
    for row in rows:
        _entry(feed, model, base, set_name, row)
    if next_link is not None:
        etree.SubElement(feed, f"{{{ATOM}}}link", href=next_link, rel="next")
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8"))
