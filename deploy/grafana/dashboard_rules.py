#!/usr/bin/env python3
"""Turn every PromQL query of a Grafana dashboard into a Prometheus rules file.

    python3 deploy/grafana/dashboard_rules.py deploy/grafana/miyabi.json OUT.yml
    promtool check rules OUT.yml

One recording rule per query: panel targets become `dashboard:panel_<id>:expr_<n>`
(n counts the panel's targets from 1, in order), annotation queries become
`dashboard:annotation_<n>:expr`. `promtool check rules` then parses every
expression, so a typo in a dashboard query fails the check instead of showing
"No data" on the night it is needed.

Grafana's built-in interval variables ($__rate_interval, $__interval, $__range,
also written ${...}) are replaced by 5m (or 300 / 300000 for the _s / _ms forms).
Any other $variable makes the script fail: the dashboard is meant to need only
its data source variable, which is not part of any query.

The script also checks the dashboard's shape: unique panel ids, every query
panel and target bound to the ${DS_PROMETHEUS} data source, no empty query.

Standard library only. The output is JSON, which is valid YAML for promtool.
Exit status: 0 on success, 1 on a problem in the dashboard, 2 on usage errors.
"""

import json
import re
import sys

DATASOURCE_UID = "${DS_PROMETHEUS}"

# Grafana's global interval variables and what to put in their place.
SUBSTITUTIONS = {
    "__rate_interval": "5m",
    "__interval": "5m",
    "__range": "5m",
    "__interval_ms": "300000",
    "__range_s": "300",
    "__range_ms": "300000",
}

# $name, ${name} or ${name:format}; a lone "$" (e.g. a regex anchor) is left alone.
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


class DashboardError(Exception):
    pass


def substitute(expr, where):
    def repl(match):
        name = match.group(1) or match.group(2)
        if name in SUBSTITUTIONS:
            return SUBSTITUTIONS[name]
        raise DashboardError(f"{where}: unknown variable ${name} in query: {expr}")

    return VARIABLE.sub(repl, expr)


def walk_panels(panels):
    """Yield every panel, including those nested in (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def check_datasource(ds, where):
    uid = ds.get("uid") if isinstance(ds, dict) else ds
    if uid != DATASOURCE_UID:
        raise DashboardError(f"{where}: data source is {ds!r}, expected uid {DATASOURCE_UID}")


def rules_from_dashboard(dashboard):
    rules = []
    seen_ids = set()
    for panel in walk_panels(dashboard.get("panels", [])):
        pid = panel.get("id")
        title = panel.get("title", "")
        where = f"panel {pid} ({title!r})"
        if not isinstance(pid, int):
            raise DashboardError(f"{where}: panel without an integer id")
        if pid in seen_ids:
            raise DashboardError(f"{where}: duplicate panel id {pid}")
        seen_ids.add(pid)
        targets = panel.get("targets", [])
        if panel.get("type") == "row" or not targets:
            continue
        check_datasource(panel.get("datasource"), where)
        for n, target in enumerate(targets, start=1):
            twhere = f"{where} target {n} (refId {target.get('refId')})"
            if "datasource" in target:
                check_datasource(target["datasource"], twhere)
            expr = (target.get("expr") or "").strip()
            if not expr:
                raise DashboardError(f"{twhere}: empty or missing expr")
            rules.append({
                "record": f"dashboard:panel_{pid}:expr_{n}",
                "expr": substitute(expr, twhere),
            })

    annotations = dashboard.get("annotations", {}).get("list", [])
    n = 0
    for annotation in annotations:
        expr = (annotation.get("expr") or "").strip()
        if not expr:
            continue  # Grafana's built-in annotation has no query
        n += 1
        where = f"annotation {annotation.get('name')!r}"
        check_datasource(annotation.get("datasource"), where)
        rules.append({
            "record": f"dashboard:annotation_{n}:expr",
            "expr": substitute(expr, where),
        })

    if not rules:
        raise DashboardError("no PromQL queries found in the dashboard")
    return rules


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, out = argv[1], argv[2]
    try:
        with open(src, encoding="utf-8") as f:
            dashboard = json.load(f)
        rules = rules_from_dashboard(dashboard)
    except (OSError, ValueError, DashboardError) as e:
        print(f"dashboard_rules: {src}: {e}", file=sys.stderr)
        return 1
    doc = {"groups": [{"name": "dashboard:" + str(dashboard.get("uid", "unknown")), "rules": rules}]}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"dashboard_rules: {len(rules)} queries from {src} written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
