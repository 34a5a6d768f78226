"""What the demo company sells and how it sells it: acquisition channels and their costs, sales and
customer-success teams, the product catalogue (plans, add-ons, one-off items), features and the
events that name them, the scene tag library, reasons deals are lost and causes of churn."""

CHANNELS = ["官网/SEO", "展会", "转介绍", "合作伙伴", "电话销售", "线上广告"]
CHANNEL_WEIGHTS = [25, 14, 15, 12, 18, 16]
# Spend per lead (CNY) and a fixed monthly base per channel: the CAC numerator.
CHANNEL_COST_PER_LEAD = {
    "官网/SEO": 260,
    "展会": 2400,
    "转介绍": 450,
    "合作伙伴": 1300,
    "电话销售": 700,
    "线上广告": 1100,
}
CHANNEL_MONTHLY_BASE = {
    "官网/SEO": 6000,
    "展会": 0,
    "转介绍": 1000,
    "合作伙伴": 3000,
    "电话销售": 15000,
    "线上广告": 4000,
}

SALES_TEAMS = {  # team -> regions it covers
    "华东销售部": ("华东",),
    "华南销售部": ("华南",),
    "华北东北销售部": ("华北", "东北"),
    "中西部销售部": ("华中", "西南", "西北"),
    "海外业务部": ("海外",),
}
CSM_TEAMS = ["客户成功一组", "客户成功二组"]

# Products: (external id, name, family, list price, is_recurring, cost ratio)
PLANS = [
    ("PLAN-BASIC", "云帆工作台 基础版（席位/月）", "云帆工作台", 120, True, 0.16),
    ("PLAN-PRO", "云帆工作台 专业版（席位/月）", "云帆工作台", 260, True, 0.15),
    ("PLAN-ENT", "云帆工作台 企业版（席位/月）", "云帆工作台", 480, True, 0.14),
]
ADDONS = [  # (external id, name, family, monthly price, recurring, cost ratio, industries (empty: all), base take rate)
    ("ADDON-IOT", "设备物联模块", "行业模块", 3000, True, 0.28, ("制造业", "物流"), 0.35),
    ("ADDON-QMS", "质量追溯模块", "行业模块", 2000, True, 0.22, ("制造业", "医疗"), 0.25),
    ("ADDON-BI", "高级数据分析（BI）", "增值服务", 1200, True, 0.20, (), 0.15),
]
ONE_OFF = [  # (external id, name, family, unit price, recurring, cost ratio)
    ("SVC-IMPL", "实施服务包", "专业服务", 18000, False, 0.62),
    ("SVC-TRAIN", "培训服务（人天）", "专业服务", 3000, False, 0.55),
    ("PACK-CREDIT", "算力与短信资源包", "资源包", 5000, False, 0.38),
    ("LIC-PERP", "云帆工作台 私有化部署许可（买断）", "私有化", 60000, False, 0.10),
    ("SVC-MAINT", "私有化年度维保", "专业服务", 12000, False, 0.30),
]

# Features named by events. (key, name, is_core, uses per active user per day, minutes per use, add-on)
FEATURES = [
    ("approval_flow", "审批流程", True, 0.55, 3.0, ""),
    ("project_tasks", "项目任务", True, 0.45, 6.0, ""),
    ("data_dashboard", "数据看板", True, 0.25, 5.0, ""),
    ("work_orders", "工单管理", True, 0.30, 7.0, ""),
    ("docs", "在线文档", False, 0.30, 8.0, ""),
    ("mobile_checkin", "移动打卡", False, 0.35, 0.5, ""),
    ("export", "数据导出", False, 0.04, 1.0, ""),
    ("iot_monitor", "设备监控", False, 0.40, 9.0, "ADDON-IOT"),
    ("quality_trace", "质量追溯", False, 0.25, 7.0, "ADDON-QMS"),
]
EVENT_NAMES = {
    "approval_flow": "approval.submit",
    "project_tasks": "task.update",
    "data_dashboard": "dashboard.view",
    "work_orders": "work_order.update",
    "docs": "doc.edit",
    "mobile_checkin": "checkin",
    "export": "export.run",
    "iot_monitor": "iot.view",
    "quality_trace": "quality.trace",
}

# Scene tag library (场景标签库): category -> (description, values)
TAG_LIBRARY = {
    "产线自动化率": ("制造业客户产线的自动化程度", ["低(<30%)", "中(30–60%)", "高(>60%)"]),
    "数字化成熟度": ("客户内部数字化工具的使用深度", ["起步", "发展中", "领先"]),
    "决策周期": ("从首次接触到签约的周期", ["短(<1个月)", "中(1–3个月)", "长(>3个月)"]),
    "客户分层": ("按规模与合同额的分层", ["KA", "腰部", "长尾"]),
    "核心场景": ("客户购买时的首要使用场景", ["审批协同", "项目管理", "生产管理", "数据分析"]),
    "合规要求": ("客户所在行业的合规要求", ["等保三级", "医疗器械GMP", "金融监管"]),
}

LOST_REASONS = ["价格过高", "选择竞品", "预算冻结", "需求不匹配", "决策搁置", "联系不上关键人"]
LOST_WEIGHTS = [25, 25, 15, 15, 12, 8]

# churn cause -> (weight, label, decline days (lo, hi), ticket multiplier in decline, complaint share in decline,
#                 chance the champion leaves, chance to come back)
CHURN_CAUSES = {
    "champion_left": (30, "关键联系人离职，新负责人不认可", (100, 270), 1.8, 0.10, 1.00, 0.20),
    "low_adoption": (18, "上线后使用率低，价值未体现", (150, 270), 1.6, 0.08, 0.30, 0.08),
    "competitor": (16, "转用竞品", (90, 210), 2.2, 0.18, 0.35, 0.25),
    "budget_cut": (16, "预算削减", (90, 180), 1.4, 0.05, 0.30, 0.30),
    "poor_support": (13, "服务响应不满意", (120, 270), 3.5, 0.30, 0.30, 0.12),
    "business_closed": (7, "客户业务收缩/停业", (35, 80), 1.0, 0.03, 0.40, 0.0),
}
