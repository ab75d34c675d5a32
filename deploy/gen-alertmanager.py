#!/usr/bin/env python3
"""Generate the Alertmanager configuration of vbp-watch from divisions.csv.

    python3 deploy/gen-alertmanager.py DIVISIONS_CSV --webhook-base URL \
        [--oncall URL] [--group-wait 30s] [--group-interval 5m] \
        [--repeat-interval 24h] > deploy/alertmanager.yml

DIVISIONS_CSV is the reference file of SPEC §3 (`division_code,name`, UTF-8,
header row). Every GB/T 2260 code in it is classified by its digits:
`xx0000` province, `xxxx00` city, anything else a district or county.

The routing tree it writes (SPEC §7; deploy/README.md):

  * `alertname="SupplyBreak"` -> receiver `oncall` (provincial on-call), one
    notification per (city_code, product_code); `continue: true`, so the city
    bureau gets it too;
  * `component="vbp-watch"` (the pipeline's own alerts from Prometheus,
    deploy/rules/vbp-watch-alerts.yml) -> `oncall`;
  * for every city: `city_code="<city>"` -> `city-<city>`, `continue: true`
    (a city bureau sees every alert of its whole city);
  * for every district: `division_code="<district>"` -> `district-<district>`
    (a district bureau sees the alerts of its own institutions, and only those);
  * anything matching none of these (an institution of a division missing
    from the CSV, say) -> the root receiver `oncall`, so nothing is lost.

Inhibition: a firing SupplyBreak mutes OrderUndelivered alerts with the same
product_code and city_code (the incident is handled once, by on-call).

Every receiver is a webhook: `{base}/district/{code}`, `{base}/city/{code}`,
`{base}/oncall` (or --oncall). Commented examples in the output show how to
reach WeCom (企业微信), DingTalk (钉钉) and e-mail instead.

Python 3 standard library only. Exit status 2 with a one-line reason on bad
input (missing file, missing column, malformed or duplicate code).
"""

import argparse
import csv
import re
import shlex
import sys
from collections import OrderedDict

CODE = re.compile(r"^[1-9][0-9]{5}$")
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def fail(message):
    print(f"gen-alertmanager: {message}", file=sys.stderr)
    sys.exit(2)


def level(code):
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "district"


def city_of(code):
    return code[:4] + "00"


def read_divisions(path):
    """division_code -> name, in file order; checks every row."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    divisions = OrderedDict()
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "division_code" not in reader.fieldnames or "name" not in reader.fieldnames:
            fail(f"{path}: the header must have the columns division_code and name")
        for row in reader:
            line = reader.line_num
            code = (row.get("division_code") or "").strip()
            name = (row.get("name") or "").strip()
            if not CODE.match(code):
                fail(f"{path}:{line}: division_code {code!r} is not a 6-digit GB/T 2260 code")
            if code in divisions:
                fail(f"{path}:{line}: division_code {code} appears twice")
            divisions[code] = name
    if not divisions:
        fail(f"{path}: no divisions")
    return divisions


def quote(text):
    """A YAML single-quoted scalar."""
    return "'" + text.replace("'", "''") + "'"


def comment(text):
    """Text safe inside a YAML comment (one line)."""
    return " ".join(text.split())


EXAMPLES = """\
# ---------------------------------------------------------------------------
# Reaching people other than by webhook. Alertmanager speaks e-mail and
# WeCom (企业微信) application messages natively; DingTalk (钉钉) and WeCom
# group robots (群机器人) want their own JSON, so they go through a small
# bridge that takes Alertmanager's webhook (e.g. prometheus-webhook-dingtalk).
# Add any of these beside (or instead of) a receiver's webhook_configs.
#
# E-mail (fill in the SMTP settings under `global:` above):
#     email_configs:
#       - to: 'yjjc@ybj.baoji.example.gov.cn'        # 区县医保局 duty mailbox
#         send_resolved: true
#         headers:
#           Subject: '[集采监测] {{ .CommonLabels.alertname }} {{ .CommonLabels.division_code }}'
#
# WeCom (企业微信) application message (fill in wechat_api_* under `global:`):
#     wechat_configs:
#       - agent_id: '1000002'
#         to_party: '12'                              # the bureau's department id
#         send_resolved: true
#         message: '{{ template "wechat.default.message" . }}'
#
# WeCom group robot (群机器人) through a bridge listening on 127.0.0.1:8061:
#     webhook_configs:
#       - url: 'http://127.0.0.1:8061/wecom/610305'   # the bridge maps it to the robot key
#         send_resolved: true
#
# DingTalk (钉钉) robot through prometheus-webhook-dingtalk on 127.0.0.1:8060
# (its config.yml maps target `district-610305` to the robot's access_token
# and secret):
#     webhook_configs:
#       - url: 'http://127.0.0.1:8060/dingtalk/district-610305/send'
#         send_resolved: true
# ---------------------------------------------------------------------------
"""


def generate(divisions, source, command, base, oncall, duty, timing):
    cities = OrderedDict((c, n) for c, n in divisions.items() if level(c) == "city")
    districts = OrderedDict((c, n) for c, n in divisions.items() if level(c) == "district")
    provinces = [c for c in divisions if level(c) == "province"]
    orphans = sorted({city_of(d) for d in districts} - set(cities))
    for city in orphans:
        print(
            f"gen-alertmanager: warning: no city {city} in {source} for district(s) "
            + ", ".join(d for d in districts if city_of(d) == city)
            + "; they get district receivers but no city receiver",
            file=sys.stderr,
        )

    def full_name(code):
        name = divisions.get(code, "")
        if level(code) == "district" and city_of(code) in divisions:
            name = f"{divisions[city_of(code)]} {name}"
        return comment(name)

    out = []
    w = out.append
    w("# Alertmanager configuration of vbp-watch. GENERATED by deploy/gen-alertmanager.py:")
    w("# edit the generator or its input, not this file. Regenerate with")
    w(f"#   {comment(command)} > deploy/alertmanager.yml")
    w(
        f"# Input: {len(provinces)} province(s) ({', '.join(full_name(p) for p in provinces) or '-'}), "
        f"{len(cities)} cities, {len(districts)} districts."
    )
    w("#")
    w("# Routing (SPEC §7, deploy/README.md):")
    w('#   escalated="true"               -> duty: an incident nobody acknowledged in time (vbp-watch [triage]), only there')
    w('#   alertname="SupplyBreak"        -> oncall (one incident per city_code, product_code), continue')
    w('#   component="vbp-watch"          -> oncall (the pipeline\'s own alerts from Prometheus)')
    w('#   city_code="<city>"             -> city-<city>: the city bureau gets its whole city, continue')
    w('#   division_code="<district>"     -> district-<district>: the district bureau, its own institutions only')
    w("#   anything else                  -> oncall (the root receiver), so nothing is lost")
    w("# Inhibition: a firing SupplyBreak mutes OrderUndelivered of the same product_code and city_code.")
    w("")
    w("global:")
    w(f"  resolve_timeout: {timing['resolve_timeout']}")
    w("  # E-mail:")
    w("  # smtp_smarthost: 'smtp.example.gov.cn:465'")
    w("  # smtp_from: 'vbp-watch@ybj.example.gov.cn'")
    w("  # smtp_auth_username: 'vbp-watch@ybj.example.gov.cn'")
    w("  # smtp_auth_password: set it here from a secret store, never commit it")
    w("  # smtp_require_tls: true")
    w("  # WeCom (企业微信) application messages:")
    w("  # wechat_api_url: 'https://qyapi.weixin.qq.com/cgi-bin/'")
    w("  # wechat_api_corp_id: 'ww0000000000000000'")
    w("  # wechat_api_secret: set it here from a secret store, never commit it")
    w("")
    w("route:")
    w("  receiver: oncall")
    w("  group_by: ['alertname', 'division_code']")
    w(f"  group_wait: {timing['group_wait']}")
    w(f"  group_interval: {timing['group_interval']}")
    w(f"  repeat_interval: {timing['repeat_interval']}")
    w("  routes:")
    w("    # 升级: an incident unacknowledged for [triage] escalate_after_minutes,")
    w("    # sent again with escalated=\"true\": the provincial duty officer only.")
    w("    - receiver: duty")
    w("      matchers: ['escalated=\"true\"']")
    w("      group_by: ['alertname', 'city_code', 'product_code']")
    w(f"      repeat_interval: {timing['oncall_repeat_interval']}")
    w("    # 疑似断供: provincial on-call, one incident per product and city.")
    w("    - receiver: oncall")
    w("      matchers: ['alertname=\"SupplyBreak\"']")
    w("      group_by: ['alertname', 'city_code', 'product_code']")
    w(f"      repeat_interval: {timing['oncall_repeat_interval']}")
    w("      continue: true")
    w("    # The pipeline's own alerts (deploy/rules/vbp-watch-alerts.yml).")
    w("    - receiver: oncall")
    w("      matchers: ['component=\"vbp-watch\"']")
    w("      group_by: ['alertname', 'instance']")
    w(f"      repeat_interval: {timing['oncall_repeat_interval']}")
    w("    # City bureaus (市医保局): the whole city.")
    for code, name in cities.items():
        w(f"    - receiver: city-{code}  # {comment(name)}")
        w(f"      matchers: ['city_code=\"{code}\"']")
        w("      continue: true")
    w("    # District and county bureaus (区县医保局): their own institutions only.")
    for code in districts:
        w(f"    - receiver: district-{code}  # {full_name(code)}")
        w(f"      matchers: ['division_code=\"{code}\"']")
    w("")
    w("inhibit_rules:")
    w("  # One supply-break incident replaces the per-hospital undelivered-order warnings.")
    w("  - source_matchers: ['alertname=\"SupplyBreak\"']")
    w("    target_matchers: ['alertname=\"OrderUndelivered\"']")
    w("    equal: ['product_code', 'city_code']")
    w("  # While vbp-watch is down its other pipeline alerts say nothing new.")
    w("  - source_matchers: ['alertname=\"VbpWatchDown\"']")
    w("    target_matchers: ['component=\"vbp-watch\"', 'alertname!=\"VbpWatchDown\"']")
    w("    equal: ['instance']")
    w("")
    w("receivers:")
    w("  - name: oncall  # 省级值班 provincial on-call")
    w("    webhook_configs:")
    w(f"      - url: {quote(oncall)}")
    w("        send_resolved: true")
    w("  - name: duty  # 省级带班领导 provincial duty officer: escalated incidents")
    w("    webhook_configs:")
    w(f"      - url: {quote(duty)}")
    w("        send_resolved: true")
    for code, name in cities.items():
        w(f"  - name: city-{code}  # {comment(name)}")
        w("    webhook_configs:")
        w(f"      - url: {quote(f'{base}/city/{code}')}")
        w("        send_resolved: true")
    for code in districts:
        w(f"  - name: district-{code}  # {full_name(code)}")
        w("    webhook_configs:")
        w(f"      - url: {quote(f'{base}/district/{code}')}")
        w("        send_resolved: true")
    w("")
    out.append(EXAMPLES.rstrip("\n"))
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Generate vbp-watch's Alertmanager routing tree (one receiver per district and city) from divisions.csv.",
    )
    parser.add_argument("divisions_csv", metavar="DIVISIONS_CSV", help="the reference divisions.csv (division_code,name)")
    parser.add_argument("--webhook-base", required=True, metavar="URL", help="receivers post to URL/district/CODE, URL/city/CODE, URL/oncall")
    parser.add_argument("--oncall", metavar="URL", help="the provincial on-call webhook (default: WEBHOOK_BASE/oncall)")
    parser.add_argument("--duty", metavar="URL", help="the provincial duty officer's webhook for escalated incidents (default: WEBHOOK_BASE/duty)")
    parser.add_argument("--group-wait", default="30s", help="route group_wait (default 30s)")
    parser.add_argument("--group-interval", default="5m", help="route group_interval (default 5m)")
    parser.add_argument("--repeat-interval", default="24h", help="reminder of a still-firing alert to the bureaus (default 24h)")
    parser.add_argument("--oncall-repeat-interval", default="4h", help="reminder to on-call (default 4h)")
    parser.add_argument("--resolve-timeout", default="5m", help="global resolve_timeout (default 5m)")
    args = parser.parse_args(argv)
    base = args.webhook_base.rstrip("/")
    if not re.match(r"^https?://[^\s']+$", base):
        fail(f"--webhook-base {args.webhook_base!r} is not an http(s) URL")
    oncall = args.oncall or f"{base}/oncall"
    duty = args.duty or f"{base}/duty"
    for option, url in (("--oncall", oncall), ("--duty", duty)):
        if not re.match(r"^https?://[^\s']+$", url):
            fail(f"{option} {url!r} is not an http(s) URL")
    timing = {
        "group_wait": args.group_wait,
        "group_interval": args.group_interval,
        "repeat_interval": args.repeat_interval,
        "oncall_repeat_interval": args.oncall_repeat_interval,
        "resolve_timeout": args.resolve_timeout,
    }
    for option, value in timing.items():
        if not DURATION.match(value):
            fail(f"--{option.replace('_', '-')} {value!r} is not a duration such as 30s, 5m or 4h")
    divisions = read_divisions(args.divisions_csv)
    command = " ".join(["python3 deploy/gen-alertmanager.py"] + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)])
    sys.stdout.write(generate(divisions, args.divisions_csv, command, base, oncall, duty, timing))


if __name__ == "__main__":
    main()
