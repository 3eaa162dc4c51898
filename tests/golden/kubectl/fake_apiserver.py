#!/usr/bin/env python3
"""A fake kube-apiserver serving one golden world file, so that a real kubectl prints the
expected outputs (`regen.sh`). It speaks just enough of the API for `kubectl get`: legacy
discovery, lists and gets, as server-side Tables (the world file's hand-written cells) or as
the objects themselves (for -o json|yaml|name), with `labelSelector=k=v` filtering.

Usage: fake_apiserver.py WORLD.json PORT
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

WORLD = json.load(open(sys.argv[1]))
RESOURCES = WORLD["resources"]


def group_version(r):
    return f"{r['group']}/{r['version']}" if r["group"] else r["version"]


def discovery(path):
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        groups = {}
        for r in RESOURCES:
            if r["group"]:
                gv = {"groupVersion": group_version(r), "version": r["version"]}
                groups.setdefault(r["group"], {"name": r["group"], "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": list(groups.values())}
    for r in RESOURCES:
        prefix = "/api/v1" if not r["group"] else f"/apis/{group_version(r)}"
        if path == prefix:
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(r),
                    "resources": [{"name": x["plural"], "singularName": x["kind"].lower(),
                                   "namespaced": x["namespaced"], "kind": x["kind"],
                                   "verbs": ["get", "list"], "shortNames": x.get("shortNames", [])}
                                  for x in RESOURCES if group_version(x) == group_version(r)]}
    return None


def route(path):
    """(resource, namespace or None, name or None) for a list or get path."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    for r in RESOURCES:
        if r["group"] == group and rest and r["plural"] == rest[0]:
            return r, ns, (rest[1] if len(rest) > 1 else None)
    return None


def matches(item, ns, name, selector):
    meta = item["object"]["metadata"]
    if ns is not None and meta.get("namespace") != ns:
        return False
    if name is not None and meta.get("name") != name:
        return False
    for term in filter(None, selector.split(",")):
        k, v = term.split("=", 1)
        if meta.get("labels", {}).get(k) != v:
            return False
    return True


def table(r, items):
    cols = [{"name": c[0], "type": "string", "format": "name" if i == 0 else "",
             "description": "", "priority": c[1]} for i, c in enumerate(r["columns"])]
    rows = [{"cells": it["cells"],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": it["object"]["metadata"]}} for it in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "1"},
            "columnDefinitions": cols, "rows": rows}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        found = discovery(url.path)
        if found is not None:
            return self.reply(200, found)
        hit = route(url.path)
        if hit is None:
            return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                    "reason": "NotFound", "code": 404, "message": "not found"})
        r, ns, name = hit
        selector = parse_qs(url.query).get("labelSelector", [""])[0]
        items = [it for it in r["items"] if matches(it, ns, name, selector)]
        as_table = "as=Table" in self.headers.get("Accept", "")
        if name is not None:
            if not items:
                return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                        "reason": "NotFound", "code": 404,
                                        "message": f'{r["plural"]} "{name}" not found'})
            if as_table:
                return self.reply(200, table(r, items), "application/json;as=Table;v=v1;g=meta.k8s.io")
            return self.reply(200, items[0]["object"])
        if as_table:
            return self.reply(200, table(r, items), "application/json;as=Table;v=v1;g=meta.k8s.io")
        return self.reply(200, {"kind": r["kind"] + "List", "apiVersion": group_version(r),
                                "metadata": {"resourceVersion": "1"},
                                "items": [it["object"] for it in items]})


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
