#!/usr/bin/env python3
"""Writes the Grafana dashboards of vbp-watch into grafana/dashboards/.

    python3 grafana/build-dashboards.py          # rewrites the five JSON files
    python3 grafana/build-dashboards.py --check  # exit 1 if they are out of date

The JSON files are what Grafana loads (grafana/provisioning/dashboards/);
this script is where they are edited, so that the five dashboards share one
style: Chinese titles with English in brackets, units, thresholds matching
SPEC §6, the division names joined from `vbp_division_info`.

Conventions the end-to-end test relies on (tests/tests/observability.rs):
  * every query is a Prometheus `targets[].expr`; template variables are
    $city and $district (6-digit codes) and Grafana's $__rate_interval;
  * a panel whose description contains "live only" may return nothing on
    a `vbp-watch demo` run (consumer lag, checkpoints, input rates exist
    only in `vbp-watch run`); every other panel must return data.

Python 3 standard library only.
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "vbp-prometheus"}
LIVE_ONLY = "（仅实时模式 live only：vbp-watch run 才有此数据）"

# Join a series carrying division_code with the division's name.
NAMED = " * on (division_code) group_left (name) vbp_division_info"
# ... and one carrying city_code (the alert and delivery series).
CITY_NAMED = (
    ' * on (city_code) group_left (name) label_replace(vbp_division_info{level="city"}, '
    '"city_code", "$1", "division_code", "(.*)")'
)

# Thresholds (SPEC §6). Steps are [color, from-value]; the first has no value.
SCHEDULE = [("red", None), ("orange", 0.5), ("yellow", 0.8), ("green", 1.0)]  # progress / schedule
SHARE = [("green", None), ("orange", 0.3), ("red", 0.5)]  # non-selected share
ON_TIME = [("red", None), ("orange", 0.9), ("green", 0.95)]  # 配送率: <90 % poor, 90–95 % fair
COUNT_BAD = [("green", None), ("orange", 1), ("red", 10)]  # anything above zero is a concern
CRITICAL = [("green", None), ("red", 1)]
WARNING = [("green", None), ("orange", 1)]
MONEY = [("green", None), ("orange", 1), ("red", 1_000_000)]
NEUTRAL = [("blue", None)]
YUAN = "currency:¥"


def steps(spec):
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in spec]}


class Board:
    def __init__(self, uid, title, description, tags, variables=()):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.variables = list(variables)
        self.panels = []
        self.next_id = 1
        self.x = self.y = 0
        self.row_height = 0

    def _place(self, w, h):
        if self.x + w > 24:
            self.x, self.y = 0, self.y + self.row_height
            self.row_height = 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def row(self, title):
        if self.x:
            self.x, self.y = 0, self.y + self.row_height
            self.row_height = 0
        self.panels.append(
            {"id": self._id(), "type": "row", "title": title, "collapsed": False, "panels": [],
             "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}}
        )
        self.y += 1

    def _id(self):
        self.next_id += 1
        return self.next_id - 1

    def panel(self, kind, title, targets, *, description="", unit="short", thresholds=NEUTRAL, w=6, h=5,
              decimals=None, minimum=None, maximum=None, live_only=False, options=None, overrides=None,
              transformations=None, mappings=None, color_mode="thresholds", custom=None):
        if live_only:
            description = (description + " " if description else "") + LIVE_ONLY
        defaults = {"unit": unit, "thresholds": steps(thresholds), "color": {"mode": color_mode}, "mappings": mappings or []}
        if decimals is not None:
            defaults["decimals"] = decimals
        if minimum is not None:
            defaults["min"] = minimum
        if maximum is not None:
            defaults["max"] = maximum
        if custom:
            defaults["custom"] = custom
        panel = {
            "id": self._id(),
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": options or {},
            "targets": [],
        }
        for ref, target in zip("ABCDEFGH", targets):
            if isinstance(target, str):
                target = {"expr": target}
            t = {
                "refId": ref,
                "datasource": DS,
                "expr": target["expr"],
                "legendFormat": target.get("legend", "__auto"),
                "range": kind == "timeseries",
                "instant": kind != "timeseries",
                "format": target.get("format", "table" if kind == "table" else "time_series"),
            }
            panel["targets"].append(t)
        if transformations:
            panel["transformations"] = transformations
        self.panels.append(panel)
        return panel

    # The panel kinds used, with their usual options.
    def stat(self, title, expr, **kw):
        legend = kw.pop("legend", None)
        opts = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background", "graphMode": "none", "textMode": "auto", "justifyMode": "auto",
                "orientation": "auto"}
        target = {"expr": expr, "legend": legend} if legend else expr
        return self.panel("stat", title, [target], options=opts, **kw)

    def bars(self, title, expr, legend, **kw):
        opts = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                "valueMode": "color", "namePlacement": "left", "minVizHeight": 16, "maxVizHeight": 24}
        return self.panel("bargauge", title, [{"expr": expr, "legend": legend}], options=opts, **kw)

    def series(self, title, targets, **kw):
        opts = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"], "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"}}
        custom = {"drawStyle": "line", "lineWidth": 2, "fillOpacity": 5, "showPoints": "never", "spanNulls": True,
                  "thresholdsStyle": {"mode": kw.pop("threshold_style", "off")}}
        return self.panel("timeseries", title, targets, options=opts, custom=custom, color_mode="palette-classic", **kw)

    def table(self, title, targets, *, columns=None, sort=None, **kw):
        opts = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
        if sort:
            opts["sortBy"] = [{"displayName": sort[0], "desc": sort[1]}]
        transformations = kw.pop("transformations", None) or []
        if columns:
            transformations.append({
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "job": True, "instance": True, "level": True, "__name__": True},
                    "indexByName": {name: i for i, (name, _) in enumerate(columns)},
                    "renameByName": dict(columns),
                },
            })
        custom = {"align": "auto", "cellOptions": {"type": kw.pop("cell", "color-text")}, "inspect": False}
        return self.panel("table", title, targets, options=opts, transformations=transformations, custom=custom, **kw)

    def text(self, title, content, w=24, h=3):
        self.panels.append({"id": self._id(), "type": "text", "title": title, "gridPos": self._place(w, h),
                            "options": {"mode": "markdown", "content": content}})

    def json(self):
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "timezone": "Asia/Shanghai",
            "editable": True,
            "graphTooltip": 1,
            "refresh": "30s",
            "time": {"from": "now-24h", "to": "now"},
            "schemaVersion": 39,
            "version": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "monday",
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
                "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
            }]},
            "links": [{"type": "dashboards", "tags": ["vbp-watch"], "asDropdown": True, "title": "集采监测 dashboards",
                       "includeVars": False, "keepTime": True}],
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def division_variable(name, label, selector):
    """A variable whose value is a division code and whose text is its name."""
    query = f"query_result({selector})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 3},
        "definition": query,
        # query_result lines read `vbp_division_info{city_code="…",division_code="…",…,name="…"} 1 …`.
        "regex": '/division_code="(?<value>[0-9]{6})".*name="(?<text>[^"]*)"/',
        "refresh": 2,
        "sort": 0,               # query order: by code
        "includeAll": False,
        "multi": False,
        "current": {},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }


def alert_counts(board, selector, what):
    board.stat(f"严重预警 Critical {what}", f'sum(vbp_alerts_firing{{{selector}severity="critical"}}) or vector(0)',
               thresholds=CRITICAL, w=4, description="正在触发的 critical 预警数 (SPEC §7)。")
    board.stat(f"一般预警 Warning {what}", f'sum(vbp_alerts_firing{{{selector}severity="warning"}}) or vector(0)',
               thresholds=WARNING, w=4, description="正在触发的 warning 预警数。")


# ---------------------------------------------------------------------------
def province():
    b = Board("vbp-province", "集采执行监测 · 省级总览 (Province overview)",
              "全省带量采购执行：序时进度、非中选占比、配送与回款，以及各地市正在触发的预警。",
              ["vbp-watch", "集采", "province"])
    b.row("全省关键指标 Key figures")
    b.stat("序时进度完成率 Progress vs schedule", 'province:vbp_procurement_progress_vs_schedule:ratio',
           unit="percentunit", decimals=1, thresholds=SCHEDULE, w=4,
           description="已采购量 ÷ 按序时进度应采购量（1 = 按进度）。低于 80% 对应 ProcurementBehindSchedule warning，低于 50% 对应 critical。")
    b.stat("采购进度 Progress", 'vbp_procurement_progress_ratio{level="province"}', unit="percentunit", decimals=1, w=4,
           description="执行期内协议的已采购量 ÷ 约定采购量（按基本单位折算）。")
    b.stat("序时进度 Schedule", 'vbp_procurement_schedule_ratio{level="province"}', unit="percentunit", decimals=1, w=4,
           description="已过天数 ÷ 协议期总天数，按约定采购量加权。")
    b.stat("非中选占比 Non-selected share", 'vbp_non_selected_share_ratio{level="province"}', unit="percentunit",
           decimals=1, thresholds=SHARE, w=4, description="非中选产品 ÷ 同品种总采购量（SPEC §6.2 口径）。30% 以上 warning，50% 以上 critical。")
    b.stat("配送率 On-time delivery", 'province:vbp_on_time_delivery:ratio', unit="percentunit", decimals=1,
           thresholds=ON_TIME, w=4, description="近 30 天到期订单行中按时足量配送的比例：≥95% 正常，90–95% 一般，<90% 较差。")
    b.stat("逾期回款 Overdue payments", 'vbp_overdue_payment_yuan{level="province"}', unit=YUAN, decimals=2,
           thresholds=MONEY, w=4, description="验收合格后超过次月底仍未结清的金额（元）。")
    alert_counts(b, "", "")
    b.stat("疑似断供 Supply breaks", 'sum(vbp_alerts_firing{alertname="SupplyBreak"}) or vector(0)', thresholds=CRITICAL,
           w=4, description="同一产品在同一地市 3 家及以上机构逾期未配送。")
    b.stat("逾期未配送订单行 Overdue order lines", 'vbp_overdue_order_lines{level="province"}', thresholds=COUNT_BAD, w=4,
           description="超过配送时限（默认 48 小时）仍有未配送数量的订单行。")
    b.stat("未完成订单行 Open order lines", 'vbp_open_order_lines{level="province"}', w=4,
           description="仍有未配送数量的订单行（含未逾期）。")
    b.stat("地市 Cities", 'count(vbp_division_info{level="city"})', w=4, description="参考数据中的地市数。")

    b.row("各地市 By city")
    b.bars("各地市序时进度完成率 Progress vs schedule by city",
           'vbp_procurement_progress_vs_schedule_ratio{level="city"}' + NAMED, "{{name}}",
           unit="percentunit", decimals=1, thresholds=SCHEDULE, minimum=0, maximum=1.2, w=8, h=10)
    b.bars("各地市非中选占比 Non-selected share by city",
           'vbp_non_selected_share_ratio{level="city"}' + NAMED, "{{name}}",
           unit="percentunit", decimals=1, thresholds=SHARE, minimum=0, maximum=1, w=8, h=10)
    b.bars("各地市逾期回款 Overdue payments by city",
           'vbp_overdue_payment_yuan{level="city"}' + NAMED, "{{name}}", unit=YUAN, thresholds=MONEY, minimum=0, w=8, h=10)
    b.table("各地市正在触发的预警 Firing alerts by city",
            ['sum by (city_code, alertname) (vbp_alerts_firing)' + CITY_NAMED],
            transformations=[{"id": "groupingToMatrix", "options": {"columnField": "alertname", "rowField": "name",
                                                                     "valueField": "Value", "emptyValue": "zero"}}],
            thresholds=COUNT_BAD, w=24, h=9,
            description="每个地市各类预警的条数（区县、机构明细见 “地市与区县” 看板与 Alertmanager）。")

    b.row("趋势 Trends")
    b.series("各地市序时进度完成率趋势 Progress vs schedule",
             [{"expr": 'vbp_procurement_progress_vs_schedule_ratio{level="city"}' + NAMED, "legend": "{{name}}"},
              {"expr": 'vbp_procurement_progress_vs_schedule_ratio{level="province"}' + NAMED, "legend": "{{name}}（全省）"}],
             unit="percentunit", thresholds=SCHEDULE, threshold_style="dashed", w=12, h=9)
    b.series("预警数趋势 Firing alerts by name", [{"expr": 'vbp:alerts_firing:sum_by_alertname_severity',
                                                  "legend": "{{alertname}} {{severity}}"}], w=12, h=9)

    b.row("重点关注 Lagging districts")
    b.table("序时进度最落后的 10 个区县 Ten districts most behind schedule",
            ['bottomk(10, vbp_procurement_progress_vs_schedule_ratio{level="district"}' + NAMED + ")"],
            columns=[("name", "区县 District"), ("division_code", "代码 Code"), ("city_code", "地市 City"),
                     ("Value", "进度/序时 Progress vs schedule")],
            sort=("进度/序时 Progress vs schedule", False), unit="percentunit", decimals=1, thresholds=SCHEDULE, w=12, h=10)
    b.table("非中选占比最高的 10 个区县 Ten districts with the highest non-selected share",
            ['topk(10, vbp_non_selected_share_ratio{level="district"}' + NAMED + ")"],
            columns=[("name", "区县 District"), ("division_code", "代码 Code"), ("city_code", "地市 City"),
                     ("Value", "非中选占比 Share")],
            sort=("非中选占比 Share", True), unit="percentunit", decimals=1, thresholds=SHARE, w=12, h=10)
    return b


# ---------------------------------------------------------------------------
def drilldown():
    variables = [
        division_variable("city", "地市 City", 'vbp_division_info{level="city"}'),
        division_variable("district", "区县 District", 'vbp_division_info{level="district", city_code="$city"}'),
    ]
    b = Board("vbp-drilldown", "集采执行监测 · 地市与区县 (City and district drill-down)",
              "选择地市与区县：该市各区县的进度、占比、配送与回款，以及所选区县的明细。", ["vbp-watch", "集采", "city"], variables)
    b.row("全市 City $city")
    b.stat("全市序时进度完成率 Progress vs schedule", 'vbp_procurement_progress_vs_schedule_ratio{level="city", division_code="$city"}',
           unit="percentunit", decimals=1, thresholds=SCHEDULE, w=4)
    b.stat("全市非中选占比 Non-selected share", 'vbp_non_selected_share_ratio{level="city", division_code="$city"}',
           unit="percentunit", decimals=1, thresholds=SHARE, w=4)
    b.stat("全市配送率 On-time delivery", 'city:vbp_on_time_delivery:ratio{city_code="$city"}', unit="percentunit",
           decimals=1, thresholds=ON_TIME, w=4)
    b.stat("全市逾期回款 Overdue payments", 'vbp_overdue_payment_yuan{level="city", division_code="$city"}', unit=YUAN,
           decimals=2, thresholds=MONEY, w=4)
    alert_counts(b, 'city_code="$city", ', "")
    b.bars("各区县序时进度完成率 Progress vs schedule by district",
           'vbp_procurement_progress_vs_schedule_ratio{level="district", city_code="$city"}' + NAMED, "{{name}}",
           unit="percentunit", decimals=1, thresholds=SCHEDULE, minimum=0, maximum=1.2, w=8, h=10)
    b.bars("各区县非中选占比 Non-selected share by district",
           'vbp_non_selected_share_ratio{level="district", city_code="$city"}' + NAMED, "{{name}}",
           unit="percentunit", decimals=1, thresholds=SHARE, minimum=0, maximum=1, w=8, h=10)
    b.bars("各配送企业配送率 On-time delivery by enterprise", 'vbp_on_time_delivery_ratio{city_code="$city"}',
           "{{enterprise}}", unit="percentunit", decimals=1, thresholds=ON_TIME, minimum=0, maximum=1, w=8, h=10,
           description="近 30 天到期订单行按时足量配送的比例，按生产/配送企业。")
    b.table("各区县预警 Firing alerts by district",
            ['sum by (division_code, alertname) (vbp_alerts_firing{city_code="$city"})' + NAMED],
            transformations=[{"id": "groupingToMatrix", "options": {"columnField": "alertname", "rowField": "name",
                                                                     "valueField": "Value", "emptyValue": "zero"}}],
            thresholds=COUNT_BAD, w=12, h=9, description="疑似断供按地市计，显示在地市本身一行。")
    b.table("各区县逾期 Overdue by district",
            [{"expr": 'vbp_overdue_order_lines{level="district", city_code="$city"}' + NAMED, "format": "table"},
             {"expr": 'vbp_overdue_payment_yuan{level="district", city_code="$city"}' + NAMED, "format": "table"}],
            transformations=[{"id": "merge", "options": {}}],
            columns=[("name", "区县 District"), ("division_code", "代码 Code"),
                     ("Value #A", "逾期未配送订单行 Overdue lines"), ("Value #B", "逾期回款 Overdue yuan")],
            overrides=[{"matcher": {"id": "byName", "options": "逾期回款 Overdue yuan"},
                        "properties": [{"id": "unit", "value": YUAN}, {"id": "thresholds", "value": steps(MONEY)}]}],
            thresholds=COUNT_BAD, w=12, h=9)
    b.table("各区县执行报表 Execution report by district",
            ['sum by (division_code, outcome) (label_replace(label_replace(label_replace(label_replace('
             'vbp_report_agreements{city_code="$city"}, "outcome", "1 零采购 zero", "outcome", "zero"), '
             '"outcome", "2 低于序时 behind", "outcome", "behind"), "outcome", "3 超量 over", "outcome", "over"), '
             '"outcome", "4 正常 normal", "outcome", "normal"))' + NAMED],
            transformations=[{"id": "groupingToMatrix", "options": {"columnField": "outcome", "rowField": "name",
                                                                     "valueField": "Value", "emptyValue": "zero"}}],
            w=24, h=9,
            description="《国采地区带量执行报表》的四类签约产品数（零采购、低于序时进度、超量采购、正常采购），"
                        "按区县汇总各批次；明细见 vbp-watch 的 /report 页面与下载的报表。")
    b.series("各区县序时进度完成率趋势 Progress vs schedule by district",
             [{"expr": 'vbp_procurement_progress_vs_schedule_ratio{level="district", city_code="$city"}' + NAMED,
               "legend": "{{name}}"}], unit="percentunit", thresholds=SCHEDULE, threshold_style="dashed", w=24, h=8)

    b.row("区县 District $district")
    b.stat("序时进度完成率 Progress vs schedule", 'vbp_procurement_progress_vs_schedule_ratio{division_code="$district"}',
           unit="percentunit", decimals=1, thresholds=SCHEDULE, w=4)
    b.stat("采购进度 Progress", 'vbp_procurement_progress_ratio{division_code="$district"}', unit="percentunit", decimals=1, w=4)
    b.stat("序时进度 Schedule", 'vbp_procurement_schedule_ratio{division_code="$district"}', unit="percentunit", decimals=1, w=4)
    b.stat("非中选占比 Non-selected share", 'vbp_non_selected_share_ratio{division_code="$district"}', unit="percentunit",
           decimals=1, thresholds=SHARE, w=4)
    b.stat("逾期未配送订单行 Overdue order lines", 'vbp_overdue_order_lines{division_code="$district"}', thresholds=COUNT_BAD, w=4)
    b.stat("逾期回款 Overdue payments", 'vbp_overdue_payment_yuan{division_code="$district"}', unit=YUAN, decimals=2,
           thresholds=MONEY, w=4)
    b.table("本区县正在触发的预警 Firing alerts in the district",
            ['sum by (alertname, severity) (vbp_alerts_firing{division_code="$district"}) or on () '
             'label_replace(vector(0), "alertname", "（无 none）", "", "")'],
            columns=[("alertname", "预警 Alert"), ("severity", "级别 Severity"), ("Value", "条数 Count")],
            thresholds=COUNT_BAD, w=8, h=8,
            description="机构明细（医院、产品、证据）见 vbp-watch 的预警页面与区县收到的通知。")
    b.table("本区县执行报表 Execution report by batch",
            ['sum by (batch, outcome) (vbp_report_agreements{division_code="$district"})'],
            transformations=[{"id": "groupingToMatrix", "options": {"columnField": "outcome", "rowField": "batch",
                                                                     "valueField": "Value", "emptyValue": "zero"}}],
            w=24, h=7, description="按集采批次：zero 零采购、behind 低于序时进度、over 超量采购、normal 正常采购的签约产品数。")
    b.series("进度与序时进度 Progress and schedule",
             [{"expr": 'vbp_procurement_progress_ratio{division_code="$district"}', "legend": "采购进度 progress"},
              {"expr": 'vbp_procurement_schedule_ratio{division_code="$district"}', "legend": "序时进度 schedule"}],
             unit="percentunit", w=8, h=8)
    b.series("订单行 Order lines",
             [{"expr": 'vbp_open_order_lines{division_code="$district"}', "legend": "未完成 open"},
              {"expr": 'vbp_overdue_order_lines{division_code="$district"}', "legend": "逾期 overdue"}], w=8, h=8)
    return b


# ---------------------------------------------------------------------------
def supply():
    b = Board("vbp-supply", "集采执行监测 · 配送与供应 (Supply and delivery)",
              "配送率、逾期未配送订单与疑似断供（SPEC §6.3）。", ["vbp-watch", "集采", "supply"])
    b.row("全省 Province")
    b.stat("疑似断供 Supply breaks", 'sum(vbp_alerts_firing{alertname="SupplyBreak"}) or vector(0)', thresholds=CRITICAL,
           w=4, description="同一产品在同一地市 3 家及以上机构有逾期未配送订单（按产品×地市计一起）。")
    b.stat("订单未配送 critical", 'sum(vbp_alerts_firing{alertname="OrderUndelivered", severity="critical"}) or vector(0)',
           thresholds=CRITICAL, w=4, description="最早逾期订单超过 5 个工作日仍未配送的机构×产品。")
    b.stat("订单未配送 warning", 'sum(vbp_alerts_firing{alertname="OrderUndelivered", severity="warning"}) or vector(0)',
           thresholds=WARNING, w=4)
    b.stat("全省配送率 On-time delivery", 'province:vbp_on_time_delivery:ratio', unit="percentunit", decimals=1,
           thresholds=ON_TIME, w=4, description="≥95% 正常，90–95% 一般，<90% 较差。")
    b.stat("逾期未配送订单行 Overdue order lines", 'vbp_overdue_order_lines{level="province"}', thresholds=COUNT_BAD, w=4)
    b.stat("近 30 天到期订单行 Lines due (30 days)", 'sum(vbp_due_order_lines)', w=4)

    b.row("企业 Enterprises")
    b.bars("配送率最低的 15 家企业 Lowest on-time delivery",
           'bottomk(15, enterprise:vbp_on_time_delivery:ratio)', "{{enterprise}}", unit="percentunit", decimals=1,
           thresholds=ON_TIME, minimum=0, maximum=1, w=12, h=12, description="全省口径，按到期订单行加权。")
    b.table("企业×地市配送率 On-time delivery by enterprise and city",
            [{"expr": 'vbp_on_time_delivery_ratio' + CITY_NAMED, "format": "table"},
             {"expr": 'vbp_due_order_lines' + CITY_NAMED, "format": "table"}],
            transformations=[{"id": "merge", "options": {}}],
            columns=[("enterprise", "企业 Enterprise"), ("name", "地市 City"), ("city_code", "代码 Code"),
                     ("Value #A", "配送率 On-time"), ("Value #B", "到期订单行 Lines due")],
            sort=("配送率 On-time", False),
            overrides=[{"matcher": {"id": "byName", "options": "配送率 On-time"},
                        "properties": [{"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 1},
                                       {"id": "thresholds", "value": steps(ON_TIME)},
                                       {"id": "custom.cellOptions", "value": {"type": "color-background"}}]},
                       {"matcher": {"id": "byName", "options": "到期订单行 Lines due"},
                        "properties": [{"id": "thresholds", "value": steps(NEUTRAL)}]}],
            w=12, h=12)

    b.row("地市 Cities")
    b.bars("各地市配送率 On-time delivery by city", 'city:vbp_on_time_delivery:ratio' + CITY_NAMED, "{{name}}",
           unit="percentunit", decimals=1, thresholds=ON_TIME, minimum=0, maximum=1, w=8, h=10)
    b.bars("各地市逾期未配送订单行 Overdue order lines by city",
           'vbp_overdue_order_lines{level="city"}' + NAMED, "{{name}}", thresholds=COUNT_BAD, minimum=0, w=8, h=10)
    b.table("疑似断供与未配送预警 Supply alerts by city",
            ['sum by (city_code, alertname) (vbp_alerts_firing{alertname=~"SupplyBreak|OrderUndelivered"})' + CITY_NAMED],
            transformations=[{"id": "groupingToMatrix", "options": {"columnField": "alertname", "rowField": "name",
                                                                     "valueField": "Value", "emptyValue": "zero"}}],
            thresholds=COUNT_BAD, w=8, h=10,
            description="断供由省级值班处置（Alertmanager 路由 oncall）；同产品同地市的 OrderUndelivered 被抑制。")
    b.series("逾期未配送订单行趋势 Overdue order lines",
             [{"expr": 'vbp_overdue_order_lines{level="city"}' + NAMED, "legend": "{{name}}"}], w=12, h=8)

    b.row("投诉、替代、囤货与价格 Complaints, substitutes, stockpiling, price")
    for name, title, what in [
        ("ComplaintOverdue", "投诉超时 Complaints overdue", "企业 2 个工作日内未回复为预警，承诺时限内未解决为严重（SPEC §6.5）。"),
        ("SubstituteSurge", "可替代产品激增 Substitute surges", "近 30 天可替代产品采购额 ≥ 5,000 元且为基线 2 倍（4 倍为严重）（SPEC §6.6）。"),
        ("PeriodEndStockpiling", "期末突击采购 Period-end stockpiling", "协议期末 30 天采购量超过进度 3 倍（SPEC §6.7）。"),
        ("PriceAboveSelected", "高于中选价 Above the selected price", "近 30 天高于中选价格采购；多付 1,000 元起为严重（SPEC §6.8）。"),
    ]:
        b.stat(title, f'sum(vbp_alerts_firing{{alertname="{name}"}}) or vector(0)', thresholds=COUNT_BAD, w=6,
               description=what)
    b.table("投诉、替代、囤货与价格预警 by city",
            ['sum by (city_code, alertname) (vbp_alerts_firing{alertname=~'
             '"ComplaintOverdue|SubstituteSurge|PeriodEndStockpiling|PriceAboveSelected"})' + CITY_NAMED],
            transformations=[{"id": "groupingToMatrix", "options": {"columnField": "alertname", "rowField": "name",
                                                                     "valueField": "Value", "emptyValue": "zero"}}],
            thresholds=COUNT_BAD, w=12, h=8,
            description="区县卫健/医保部门处置；高于中选价格同时路由到地市。")
    b.series("配送率趋势 On-time delivery",
             [{"expr": 'city:vbp_on_time_delivery:ratio' + CITY_NAMED, "legend": "{{name}}"},
              {"expr": 'province:vbp_on_time_delivery:ratio', "legend": "全省 province"}],
             unit="percentunit", thresholds=ON_TIME, threshold_style="dashed", w=12, h=8)
    return b


# ---------------------------------------------------------------------------
def payments():
    b = Board("vbp-payments", "集采执行监测 · 回款 (Payments)",
              "验收合格后次月底前结清（SPEC §6.4）：逾期金额与 PaymentOverdue 预警。", ["vbp-watch", "集采", "payments"])
    b.row("全省 Province")
    b.stat("逾期回款 Overdue payments", 'vbp_overdue_payment_yuan{level="province"}', unit=YUAN, decimals=2,
           thresholds=MONEY, w=6, description="超过次月底仍未结清的金额（元）。")
    b.stat("逾期 30 天以上机构 Critical institutions",
           'sum(vbp_alerts_firing{alertname="PaymentOverdue", severity="critical"}) or vector(0)', thresholds=CRITICAL, w=6,
           description="最早一笔逾期已满 30 天的机构数（critical）。")
    b.stat("逾期机构 Warning institutions",
           'sum(vbp_alerts_firing{alertname="PaymentOverdue", severity="warning"}) or vector(0)', thresholds=WARNING, w=6)
    b.stat("有逾期的地市 Cities with overdue payments", 'count(vbp_overdue_payment_yuan{level="city"} > 0) or vector(0)',
           thresholds=WARNING, w=6)

    b.row("地市与区县 Cities and districts")
    b.bars("各地市逾期回款 Overdue payments by city", 'vbp_overdue_payment_yuan{level="city"}' + NAMED, "{{name}}",
           unit=YUAN, thresholds=MONEY, minimum=0, w=8, h=10)
    b.table("逾期金额最多的 15 个区县 Fifteen districts with the most overdue",
            ['topk(15, vbp_overdue_payment_yuan{level="district"}' + NAMED + ")"],
            columns=[("name", "区县 District"), ("division_code", "代码 Code"), ("city_code", "地市 City"),
                     ("Value", "逾期金额 Overdue")],
            sort=("逾期金额 Overdue", True), unit=YUAN, decimals=2, thresholds=MONEY, w=8, h=10)
    b.table("回款逾期预警 PaymentOverdue by city",
            ['sum by (city_code, severity) (vbp_alerts_firing{alertname="PaymentOverdue"})' + CITY_NAMED],
            transformations=[{"id": "groupingToMatrix", "options": {"columnField": "severity", "rowField": "name",
                                                                     "valueField": "Value", "emptyValue": "zero"}}],
            thresholds=COUNT_BAD, w=8, h=10, description="机构数（按预警级别）。")
    b.series("逾期回款趋势 Overdue payments",
             [{"expr": 'vbp_overdue_payment_yuan{level="city"}' + NAMED, "legend": "{{name}}"},
              {"expr": 'vbp_overdue_payment_yuan{level="province"}' + NAMED, "legend": "{{name}}（全省）"}],
             unit=YUAN, w=24, h=9)
    return b


# ---------------------------------------------------------------------------
def pipeline():
    b = Board("vbp-pipeline", "集采执行监测 · 运行状况 (Pipeline health)",
              "vbp-watch 本身：抓取、输入与死信、消费积压、评估与检查点、Alertmanager 推送。告警规则见 deploy/rules/vbp-watch-alerts.yml。",
              ["vbp-watch", "pipeline"])
    b.row("概况 Overview")
    b.stat("vbp-watch", 'up{job="vbp-watch"}', legend="{{instance}}", w=4,
           thresholds=[("red", None), ("green", 1)],
           mappings=[{"type": "value", "options": {"0": {"text": "停止 DOWN", "color": "red"},
                                                   "1": {"text": "运行 UP", "color": "green"}}}],
           description="Prometheus 能否抓取 /metrics（VbpWatchDown）。")
    b.stat("距上次评估 Since last evaluation", 'time() - vbp_last_evaluation_timestamp_seconds', unit="s", decimals=0,
           thresholds=[("green", None), ("orange", 60), ("red", 600)], w=4, live_only=True,
           description="默认每 10 秒评估一次；追赶积压时暂停，最长 max_evaluation_delay_seconds（StaleData）。")
    b.stat("事件时间滞后 Event-time lag", 'time() - vbp_event_time_watermark_seconds', unit="s", decimals=0,
           thresholds=[("green", None), ("orange", 3600), ("red", 4 * 3600)], w=4, live_only=True,
           description="最新已处理事件的 occurred_at 距现在多久（夜间与节假日自然增大）。")
    b.stat("消费积压 Consumer lag", 'sum(vbp_consumer_lag_messages)', thresholds=[("green", None), ("orange", 1000), ("red", 100000)],
           w=4, live_only=True, description="各分区尚未读取的消息数之和（ConsumerLagGrowing）。")
    b.stat("欠推送预警 Alerts owed to Alertmanager", 'vbp_alertmanager_owed_alerts', w=4,
           description="vbp-watch 正在（重复）推送的预警数：正在触发的，加上 15 分钟内解除的。")
    b.stat("正在触发的运行告警 Pipeline alerts firing", 'count(ALERTS{component="vbp-watch", alertstate="firing"}) or vector(0)',
           thresholds=CRITICAL, w=4, description="deploy/rules/vbp-watch-alerts.yml 中正在触发的告警数。")
    b.stat("说明从略的预警 Abridged alerts", 'sum(vbp_alerts_abridged) or vector(0)', thresholds=COUNT_BAD, w=4,
           description="某规则在一个区县触发超过 [detectors.alerts] worded_per_division 条（默认 500）时，其余预警只保留摘要、数值与阈值，"
                       "并由一条 AlertsAbridged 预警汇总。非零多半是阈值或参考数据有误（RUNBOOK：AlertsAbridged）。")

    b.row("输入 Input")
    b.series("输入消息 Messages by outcome",
             [{"expr": 'sum by (topic, outcome) (rate(vbp_events_total[$__rate_interval]))', "legend": "{{topic}} {{outcome}}"}],
             unit="ops", w=12, h=8, live_only=True, description="applied 已应用，duplicate 重复，rejected 拒绝（死信），waiting 等待所引用的订单/配送，skipped 重启后已处理过。")
    b.series("拒绝原因 Rejections by reason",
             [{"expr": 'sum by (reason) (rate(vbp_rejected_total[$__rate_interval]))', "legend": "{{reason}}"}],
             unit="ops", w=12, h=8, live_only=True, description="SPEC §4 原因码；原始消息在 vbp.dead-letter（DeadLetterSurge）。")
    b.series("消费积压 Consumer lag by partition",
             [{"expr": 'vbp_consumer_lag_messages', "legend": "{{topic}}/{{partition}}"}], w=12, h=8, live_only=True)
    b.series("Kafka 客户端错误 Broker errors",
             [{"expr": 'rate(vbp_broker_errors_total[$__rate_interval])', "legend": "{{instance}}"}], unit="ops", w=12, h=8,
             live_only=True)

    b.row("评估与状态 Evaluation and state")
    b.series("评估耗时 Evaluation duration",
             [{"expr": 'histogram_quantile(0.5, sum by (le) (rate(vbp_evaluation_duration_seconds_bucket[$__rate_interval])))', "legend": "p50"},
              {"expr": 'histogram_quantile(0.95, sum by (le) (rate(vbp_evaluation_duration_seconds_bucket[$__rate_interval])))', "legend": "p95"}],
             unit="s", w=8, h=8, live_only=True)
    b.series("检查点耗时 Checkpoint duration",
             [{"expr": 'histogram_quantile(0.95, sum by (le) (rate(vbp_checkpoint_duration_seconds_bucket[$__rate_interval])))', "legend": "p95"}],
             unit="s", w=8, h=8, live_only=True)
    b.series("检查点大小 Checkpoint size", [{"expr": 'vbp_checkpoint_bytes', "legend": "{{instance}}"}], unit="bytes",
             w=8, h=8, live_only=True)
    b.series("状态条目 State entries", [{"expr": 'vbp_state_entries', "legend": "{{kind}}"}], w=12, h=8,
             description="协议、订单行、未完成订单行、配送、未结清配送、等待中的事件、记住的 event_id。")
    b.series("正在触发的预警 Alerts firing",
             [{"expr": 'vbp:alerts_firing:sum_by_alertname_severity', "legend": "{{alertname}} {{severity}}"}], w=12, h=8)

    b.row("Alertmanager 推送 Pushes")
    b.series("推送失败 Push failures", [{"expr": 'rate(vbp_alertmanager_push_failures_total[$__rate_interval])', "legend": "失败 failures"},
                                      {"expr": 'rate(vbp_alertmanager_dropped_total[$__rate_interval])', "legend": "丢弃 dropped"}],
             unit="ops", w=8, h=8, description="AlertmanagerPushFailing：不可达时指数退避重试，预警不会丢失。")
    b.series("推送延迟 Push latency",
             [{"expr": 'histogram_quantile(0.95, sum by (le) (rate(vbp_alertmanager_push_latency_seconds_bucket[$__rate_interval])))', "legend": "p95"}],
             unit="s", w=8, h=8, live_only=True, description="从一次评估产生变化到 Alertmanager 接受。")
    b.series("欠推送预警 Alerts owed", [{"expr": 'vbp_alertmanager_owed_alerts', "legend": "{{instance}}"}], w=8, h=8)
    return b


BOARDS = {
    "province-overview.json": province,
    "city-district.json": drilldown,
    "supply-delivery.json": supply,
    "payments.json": payments,
    "pipeline-health.json": pipeline,
}


def main():
    check = "--check" in sys.argv[1:]
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, build in BOARDS.items():
        text = json.dumps(build().json(), ensure_ascii=False, indent=2) + "\n"
        path = OUT / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python3 grafana/build-dashboards.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
