"""The environment Cloud Foundry gives an app instance: the manifest's env, PORT, CF_INSTANCE_*, VCAP_*."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devenv.btp import LocalServices, local_binding, vcap_services
from devenv.cf_instance import Instance
from devenv.cf_manifest import App

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
ORG, SPACE = "local", "dev"


def guid_of(kind: str, name: str) -> str:
    """A stable GUID for a named thing (an app, a space): the same in every run, like the Cloud Controller's."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"local-cf:{kind}:{name}"))


def app_services(app: App, local: LocalServices) -> str:
    """VCAP_SERVICES for the services the app's manifest entry names."""
    return vcap_services(local_binding(name, local) for name in app.services)


def vcap_application(instance: Instance, uris: Sequence[str]) -> dict[str, Any]:
    app, process = instance.app, instance.process
    return {
        "application_id": guid_of("app", app.name),
        "application_name": app.name,
        "name": app.name,
        "application_uris": list(uris),
        "uris": list(uris),
        "application_version": guid_of("version", app.name),
        "version": guid_of("version", app.name),
        "instance_id": instance.guid,
        "instance_index": instance.index,
        "process_id": guid_of("process", f"{app.name}/{process.type}"),
        "process_type": process.type,
        "organization_id": guid_of("org", ORG),
        "organization_name": ORG,
        "space_id": guid_of("space", SPACE),
        "space_name": SPACE,
        "limits": {"mem": process.memory_mb, "disk": 1024, "fds": 16384},
        "host": "0.0.0.0",
        **({"port": instance.port} if instance.port is not None else {}),
    }


def instance_env(
    instance: Instance, *, services: str, uris: Sequence[str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The instance's whole environment: nothing of the launcher's own leaks in (a REDIS_URL there would win over
    the binding), as in a container; `extra` (`--env`) goes over the manifest's env, Cloud Foundry's over both."""
    home, tmp = instance.folder / "home", instance.folder / "tmp"
    env = {**instance.app.env, **(extra or {})}
    env |= {
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "MEMORY_LIMIT": f"{instance.process.memory_mb}m",
        "CF_INSTANCE_INDEX": str(instance.index),
        "CF_INSTANCE_GUID": instance.guid,
        "CF_INSTANCE_IP": "127.0.0.1",
        "CF_INSTANCE_INTERNAL_IP": "127.0.0.1",
        "VCAP_APPLICATION": json.dumps(vcap_application(instance, uris)),
        "VCAP_SERVICES": services,
    }
    if instance.port is not None:
        port = str(instance.port)
        env |= {"PORT": port, "CF_INSTANCE_PORT": port, "CF_INSTANCE_ADDR": f"127.0.0.1:{port}"}
    return env


def uris_of(app: App, web_port: int | None) -> list[str]:
    """The app's routes without scheme (VCAP_APPLICATION's uris); no routes: its web instance 0's address."""
    if app.routes:
        return [route.split("://", 1)[-1] for route in app.routes]
    return [f"127.0.0.1:{web_port}"] if web_port is not None else []
