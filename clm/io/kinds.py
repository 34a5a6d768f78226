"""What can be imported and exported, declared as data: per kind, its model, key and fields, each
field with its type, whether it is required, its choices and the column names it is recognised by
(English, Chinese, and Salesforce's and HubSpot's export headers).

A field's `header` is the column name the export writes; the importer recognises it too, so an
export re-imports onto the same records."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

from clm.commerce.models import Order, OrderLine, Payment, Product, Subscription
from clm.customers.models import Account, Contact, Interaction
from clm.sales.models import ChannelSpend, Lead, Opportunity
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import UsageEvent

TEXT, EMAIL, INT, DECIMAL, FLOAT, DATE, MONTH, DATETIME = "text", "email", "int", "decimal", "float", "date", "month", "datetime"
BOOL, CHOICE, JSON, LIST, REF, USER, KEY = "bool", "choice", "json", "list", "ref", "user", "key"
PIPELINE = "pipeline"  # a deal's pipeline by key or name (clm.io.deal_stages); written as pipeline_id
TAGS = "tags"  # tags of the tag library, "category:value" (or a value unique across categories)

DEFAULT_SOURCE = "import"
CLM_ID_PREFIX = "clm:"  # a key or reference "clm:42" names the record whose CLM id is 42


def token(text: str) -> str:
    """What a column name or choice is recognised by: width, case, spaces and punctuation ignored."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", str(text)).lower())


@dataclass(frozen=True)
class Field:
    name: str  # the model field, or a virtual input (first_name, arr, the order-line fields)
    type: str
    header: str  # what the export writes
    aliases: tuple[str, ...] = ()
    required: bool = False
    ref: str | None = None  # REF: the kind referred to, by its key (or name, for accounts and products)
    choice_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # CHOICE: value -> extra names
    minimum: float | None = None
    maximum: float | None = None
    virtual: bool = False  # not a column of the kind's model
    line: bool = False  # orders: a column of OrderLine
    match_name: bool = True  # whether a column named like the field itself is recognised
    custom: str | None = None  # a custom attribute (clm.core.models.CustomField) of the record's `custom`
    stamped: bool = False  # a date a rule fills in when it is empty: an empty cell keeps the stored one
    choices: list | None = None  # CHOICE values for a model field that has none (the built-in deal stages)

    @property
    def tokens(self) -> list[str]:
        names = (self.header, self.name, *self.aliases) if self.match_name else (self.header, *self.aliases)
        return [token(a) for a in names]


@dataclass
class Kind:
    name: str
    model: type[models.Model]
    fields: list[Field]
    label: str  # the field that names a record in reports and the audit log
    account_path: str | None = "account"  # lookup from the model to its Account (None: not account-owned)
    key: tuple[str, ...] = ("source", "external_id")
    fallback_key: str | None = None  # used as the external id when the file has no id column
    required_groups: tuple[tuple[str, ...], ...] = ()  # any one of each group must be a column
    audited: bool = True
    chunk_rows: int = 50_000
    help: str = ""

    def __post_init__(self):
        self.by_name = {f.name: f for f in self.fields}

    @property
    def imported(self) -> bool:
        """Keyed by (source, external id), as every clm.core.models.Imported model is."""
        return self.key == ("source", "external_id")

    @cached_property
    def permissions(self) -> tuple[str, ...]:
        opts = self.model._meta
        actions = ("add",) if self.model is UsageEvent else ("add", "change")
        return tuple(f"{opts.app_label}.{action}_{opts.model_name}" for action in actions)

    @cached_property
    def view_permission(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}.view_{opts.model_name}"

    def model_field(self, f: Field) -> models.Field | None:
        if f.virtual:
            return None
        model = OrderLine if f.line else self.model
        return model._meta.get_field(f.name)

    @cached_property
    def choice_lookups(self) -> dict[str, tuple[dict[str, str], str]]:
        """For each choice field: token -> stored value, and the allowed values as shown in errors."""
        out = {}
        for f in self.fields:
            if f.type != CHOICE:
                continue
            lookup, shown = {}, []
            choices = [(v, v) for v in f.choice_aliases] if f.custom else f.choices or self.model_field(f).choices
            for value, label in choices:
                with translation.override("en"):
                    english = str(label)
                with translation.override("zh-hans"):
                    chinese = str(label)
                names = [value, english, chinese, *f.choice_aliases.get(value, ())]
                for name in names:
                    lookup.setdefault(token(name), value)
                shown.append(f"{value} ({english})" if token(english) != token(value) else value)
                extra = [a for a in f.choice_aliases.get(value, ()) if not a.isascii()][:2]
                if extra:
                    shown[-1] += " / " + " / ".join(extra)
            out[f.name] = (lookup, ", ".join(shown))
        return out

    def required_fields(self) -> list[Field]:
        return [f for f in self.fields if f.required]


def ref(name: str, kind: str, header: str, aliases: tuple[str, ...], required: bool = False, **kw) -> Field:
    return Field(name, REF, header, aliases, required=required, ref=kind, **kw)


def ext_id(*aliases: str) -> Field:
    return Field("external_id", KEY, "External ID", (*aliases, "external id", "externalid", "外部编号", "id", "record id"))


SOURCE = Field("source", TEXT, "Source System", ("来源系统", "源系统"), match_name=False)
# All custom attributes as one JSON object (what the export writes); each attribute can also have
# its own column, named by its label or key (with_custom_fields).
CUSTOM = Field("custom", JSON, "Custom Attributes", ("custom fields", "custom", "自定义字段", "自定义属性"))
CUSTOM_TARGETS = {"accounts": "account", "contacts": "contact"}
CUSTOM_TYPES = {"text": TEXT, "number": FLOAT, "date": DATE, "boolean": BOOL, "choice": CHOICE}

ACCOUNT_REF = (
    "account", "account id", "account external id", "company id", "associated company id",
    "associated company ids", "associated company ids primary", "客户编号", "客户id", "客户代码", "公司编号",
    "account name", "company name", "company", "associated company", "客户名称", "公司名称", "客户", "公司", "企业名称",
)
CONTACT_REF = ("contact", "contact id", "contact external id", "associated contact id", "联系人编号", "联系人id")
PRODUCT_REF = ("product", "product id", "product code", "sku", "product name", "plan", "产品", "产品编号", "产品名称", "套餐", "商品")
OWNER = ("owner", "owner name", "sales owner", "负责人", "销售", "销售负责人", "跟进人")

ACCOUNTS = Kind(
    "accounts",
    Account,
    [
        ext_id("account id", "company id", "客户编号", "客户id", "客户代码", "公司编号", "编号"),
        SOURCE,
        Field("name", TEXT, "Name", ("account name", "company name", "company", "客户名称", "公司名称", "企业名称", "客户", "名称"), required=True),
        Field("domain", TEXT, "Domain", ("website", "company domain name", "domain name", "网址", "域名", "官网", "公司网址")),
        Field("industry", TEXT, "Industry", ("行业", "所属行业")),
        Field("employee_count", INT, "Employees", ("number of employees", "employee count", "employees count", "员工人数", "员工数", "人数", "公司规模"), minimum=0, maximum=2_147_483_647),
        Field("annual_revenue", DECIMAL, "Annual Revenue", ("revenue", "年营收", "年收入", "营业收入", "年营业额", "营收"), minimum=0),
        Field("region", TEXT, "Region", ("区域", "大区", "地区", "sales region")),
        Field("province", TEXT, "Province", ("state", "state/province", "billing state/province", "state/region", "billing state", "省份", "省", "所在省份")),
        Field("city", TEXT, "City", ("billing city", "城市", "市", "所在城市")),
        Field("development_stage", CHOICE, "Development Stage", ("stage of development", "发展阶段", "企业发展阶段"),
              choice_aliases={"startup": ("初创期", "初创", "start up"), "growth": ("成长期", "成长"), "mature": ("成熟期", "成熟"), "transformation": ("转型期", "转型")}),
        Field("acquisition_channel", TEXT, "Acquisition Channel", ("lead source", "original source", "source channel", "获客渠道", "客户来源", "渠道", "来源")),
        Field("sales_owner", USER, "Owner", (*OWNER, "account owner", "company owner", "客户负责人", "销售代表")),
        Field("csm", USER, "CSM", ("customer success manager", "客户成功经理", "客户成功", "csm owner")),
        ref("parent", "accounts", "Parent Account", ("parent account id", "parent company", "parent", "上级客户", "母公司", "集团", "上级公司")),
        ref("referred_by_account", "accounts", "Referred By Account", ("referred by", "referrer", "推荐客户", "转介绍客户", "推荐人公司")),
        ref("referred_by_contact", "contacts", "Referred By Contact", ("referrer contact", "referred by contact id", "推荐人", "转介绍人", "推荐联系人")),
        Field("customer_since", DATE, "Customer Since", ("成为客户日期", "签约日期", "首次签约日期", "became a customer date")),
        Field("pain_points", LIST, "Pain Points", ("痛点", "业务痛点")),
        Field("value_drivers", LIST, "Value Drivers", ("价值驱动", "价值驱动因素")),
        Field("tags", TAGS, "Tags", ("tag", "标签", "客户标签", "场景标签")),
        CUSTOM,
    ],
    label="name",
    account_path="",
    fallback_key="name",
    help="B2B customers and prospects",
)

CONTACT_ROLE_ALIASES = {
    "decision_maker": ("决策者", "决策人", "decision maker", "dm", "拍板人"),
    "economic_buyer": ("经济买家", "经济决策者", "采购决策者", "economic buyer", "budget holder"),
    "influencer": ("影响者", "影响人", "influencer"),
    "champion": ("支持者", "内部支持者", "拥护者", "教练", "champion", "coach"),
    "user": ("使用者", "用户", "end user", "user"),
}

CONTACTS = Kind(
    "contacts",
    Contact,
    [
        ext_id("contact id", "联系人编号", "联系人id"),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        Field("name", TEXT, "Name", ("full name", "contact name", "联系人", "联系人姓名", "姓名", "名字")),
        Field("first_name", TEXT, "First Name", ("given name", "名"), virtual=True),
        Field("last_name", TEXT, "Last Name", ("surname", "family name", "姓"), virtual=True),
        Field("email", EMAIL, "Email", ("email address", "e-mail", "邮箱", "电子邮箱", "邮件", "邮箱地址")),
        Field("phone", TEXT, "Phone", ("phone number", "mobile", "mobile phone", "mobile phone number", "电话", "手机", "手机号", "联系电话")),
        Field("title", TEXT, "Title", ("job title", "position", "职位", "职务", "头衔", "岗位")),
        Field("role", CHOICE, "Role", ("decision role", "buying role", "contact role", "decision-chain role", "角色", "决策角色", "决策链角色"), choice_aliases=CONTACT_ROLE_ALIASES),
        Field("is_key_person", BOOL, "Key Person", ("kp", "key person (kp)", "is key person", "关键人", "是否kp", "关键联系人", "kp标记")),
        Field("status", CHOICE, "Status", ("contact status", "状态", "在职状态"), choice_aliases={"active": ("在职", "有效", "正常"), "left": ("离职", "已离职", "left company")}),
        Field("left_on", DATE, "Left On", ("left date", "departure date", "离职日期"), stamped=True),
        Field("email_consent", BOOL, "Email Consent", ("email opt in", "marketing consent", "同意邮件", "邮件订阅", "同意接收邮件")),
    ],
    label="name",
    fallback_key="email",
    required_groups=(("name", "first_name", "last_name"),),
    help="people at accounts, with their decision-chain role",
)

PRODUCTS = Kind(
    "products",
    Product,
    [
        ext_id("product id", "product code", "sku", "产品编号", "产品代码", "物料编号"),
        SOURCE,
        Field("name", TEXT, "Name", ("product name", "product", "产品名称", "产品", "商品名称"), required=True),
        Field("family", TEXT, "Family", ("product family", "产品线", "产品系列", "系列", "分类")),
        Field("list_price", DECIMAL, "List Price", ("price", "unit price", "标准价", "价格", "单价", "目录价"), minimum=0),
        Field("is_recurring", BOOL, "Recurring", ("is recurring", "subscription", "订阅制", "是否订阅")),
    ],
    label="name",
    account_path=None,
    fallback_key="name",
    help="the product catalogue",
)

SUBSCRIPTIONS = Kind(
    "subscriptions",
    Subscription,
    [
        ext_id("subscription id", "contract id", "contract number", "合同编号", "合同号", "订阅编号", "合同id"),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        ref("product", "products", "Product", PRODUCT_REF),
        Field("start_date", DATE, "Start Date", ("contract start date", "start", "开始日期", "生效日期", "合同开始日期", "起始日期"), required=True),
        Field("end_date", DATE, "End Date", ("contract end date", "end", "结束日期", "到期日期", "合同结束日期", "截止日期")),
        Field("seats", INT, "Seats", ("licenses", "licences", "users", "座席数", "席位数", "账号数", "用户数"), minimum=0, maximum=2_147_483_647),
        Field("mrr", DECIMAL, "MRR", ("monthly fee", "monthly recurring revenue", "monthly amount", "月费", "月度费用", "月收入", "月经常性收入"), minimum=0),
        Field("arr", DECIMAL, "ARR", ("annual recurring revenue", "annual fee", "年费", "合同年额", "年度费用"), minimum=0, virtual=True),
        Field("status", CHOICE, "Status", ("contract status", "状态", "合同状态"), choice_aliases={
            "trial": ("试用", "试用中"), "active": ("生效", "有效", "正常", "活跃", "执行中", "生效中"),
            "cancelled": ("取消", "已取消", "解约", "已解约", "canceled"), "expired": ("到期", "已到期", "过期", "已过期")}),
        Field("auto_renew", BOOL, "Auto Renew", ("auto-renew", "auto renewal", "自动续约", "自动续费")),
        Field("renewal_date", DATE, "Renewal Date", ("续约日期", "续费日期", "下次续约日期")),
        Field("cancelled_on", DATE, "Cancelled On", ("cancel date", "cancellation date", "取消日期", "解约日期")),
        Field("cancel_reason", TEXT, "Cancel Reason", ("cancellation reason", "churn reason", "取消原因", "解约原因", "流失原因")),
    ],
    label="external_id",
    required_groups=(("mrr", "arr"),),
    help="contracts; MRR changes are written to the contract ledger",
)

ORDERS = Kind(
    "orders",
    Order,
    [
        Field("external_id", KEY, "Order ID", ("order number", "order no", "order", "订单号", "订单编号", "单号", "external id")),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        Field("ordered_on", DATE, "Order Date", ("date", "ordered on", "purchase date", "下单日期", "订单日期", "日期", "购买日期"), required=True),
        Field("line_no", INT, "Line", ("line no", "line number", "行号", "明细行号", "序号"), minimum=1, maximum=2_147_483_647, line=True),
        ref("product", "products", "Product", PRODUCT_REF, line=True),
        Field("quantity", DECIMAL, "Quantity", ("qty", "数量", "购买数量"), line=True),
        Field("amount", DECIMAL, "Amount", ("line amount", "total", "金额", "销售额", "行金额", "订单金额", "成交金额"), required=True, line=True),
        Field("cost", DECIMAL, "Cost", ("line cost", "cogs", "成本", "成本金额"), line=True),
    ],
    label="external_id",
    help="orders, one row per order line; rows sharing an order id form one order",
)

PAYMENTS = Kind(
    "payments",
    Payment,
    [
        ext_id("payment id", "invoice id", "invoice number", "付款编号", "收款编号", "发票号", "账单编号", "回款编号"),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        ref("order", "orders", "Order", ("order id", "order number", "订单号", "订单编号")),
        ref("subscription", "subscriptions", "Subscription", ("subscription id", "contract id", "contract number", "合同编号", "合同号")),
        Field("due_on", DATE, "Due Date", ("due", "due on", "到期日", "应付日期", "应收日期", "账期日"), required=True),
        Field("paid_on", DATE, "Paid Date", ("paid on", "payment date", "付款日期", "实付日期", "回款日期", "到账日期")),
        Field("amount", DECIMAL, "Amount", ("payment amount", "invoice amount", "金额", "付款金额", "应付金额", "回款金额"), required=True),
        Field("status", CHOICE, "Status", ("payment status", "状态", "付款状态"), choice_aliases={
            "open": ("未付", "待付", "未付款", "待付款", "未回款", "unpaid", "outstanding"),
            "paid": ("已付", "已付款", "已回款", "已到账"), "void": ("作废", "已作废", "voided", "cancelled")}),
    ],
    label="external_id",
    help="invoices and payments, with due and paid dates",
)

USAGE_EVENTS = Kind(
    "usage_events",
    UsageEvent,
    [
        Field("source", TEXT, "Source System", ("来源系统", "源系统"), match_name=False, virtual=True),
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        ref("contact", "contacts", "Contact", CONTACT_REF),
        Field("user_key", TEXT, "User", ("user id", "user key", "用户", "用户id", "用户编号")),
        Field("event", TEXT, "Event", ("event name", "action", "事件", "事件名称", "行为"), required=True),
        Field("feature", TEXT, "Feature", ("module", "功能", "模块", "功能模块")),
        Field("occurred_at", DATETIME, "Occurred At", ("timestamp", "time", "event time", "date", "datetime", "时间", "发生时间", "事件时间", "日期"), required=True),
        Field("quantity", FLOAT, "Quantity", ("count", "数量", "次数"), minimum=0),
        Field("duration_seconds", FLOAT, "Duration Seconds", ("duration", "seconds", "duration (s)", "时长", "时长秒", "持续时间"), minimum=0),
        Field("properties", JSON, "Properties", ("props", "属性", "事件属性")),
        Field("idempotency_key", TEXT, "Idempotency Key", ("event id", "message id", "事件编号", "幂等键")),
    ],
    label="event",
    key=(),
    audited=False,
    help="product usage events (telemetry: stored once per idempotency key, rolled up daily, not audited)",
)

PRIORITY_ALIASES = {
    "low": ("低", "p4", "较低"), "normal": ("中", "普通", "一般", "正常", "medium", "p3"),
    "high": ("高", "p2", "较高"), "urgent": ("紧急", "加急", "critical", "p1", "最高"),
}
TICKETS = Kind(
    "tickets",
    Ticket,
    [
        ext_id("ticket id", "case id", "case number", "ticket number", "工单号", "工单编号", "工单id"),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        ref("contact", "contacts", "Contact", CONTACT_REF),
        Field("subject", TEXT, "Subject", ("ticket name", "title", "主题", "标题", "工单标题", "问题"), required=True),
        Field("category", TEXT, "Category", ("type", "case type", "ticket type", "类别", "分类", "工单类型", "问题类型")),
        Field("priority", CHOICE, "Priority", ("severity", "优先级", "紧急程度", "严重程度"), choice_aliases=PRIORITY_ALIASES),
        Field("status", CHOICE, "Status", ("ticket status", "case status", "状态", "工单状态"), choice_aliases={
            "open": ("打开", "新建", "待处理", "未处理", "new"), "pending": ("等待", "挂起", "处理中", "等待回复", "waiting on contact", "in progress"),
            "resolved": ("已解决", "解决"), "closed": ("已关闭", "关闭", "结束")}),
        Field("opened_at", DATETIME, "Opened At", ("date/time opened", "create date", "created", "created date", "opened", "创建时间", "提交时间", "开单时间", "报告时间"), required=True),
        Field("first_response_at", DATETIME, "First Response At", ("first response", "first response time", "首次响应时间", "首响时间")),
        Field("resolved_at", DATETIME, "Resolved At", ("date/time closed", "close date", "closed date", "resolved", "解决时间", "关闭时间")),
        Field("csat", INT, "CSAT", ("satisfaction", "customer satisfaction", "满意度", "满意度评分"), minimum=1, maximum=5),
    ],
    label="subject",
    help="support tickets with SLA times and CSAT",
)

SURVEY_RESPONSES = Kind(
    "survey_responses",
    SurveyResponse,
    [
        ext_id("response id", "survey response id", "答卷编号", "问卷编号", "回复编号"),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        ref("contact", "contacts", "Contact", CONTACT_REF),
        Field("kind", CHOICE, "Survey", ("survey type", "type", "问卷类型", "类型"), choice_aliases={"nps": ("净推荐值", "net promoter score"), "csat": ("满意度", "客户满意度")}),
        Field("score", INT, "Score", ("rating", "nps", "nps score", "评分", "分数", "得分", "推荐值", "打分"), required=True, minimum=0, maximum=10),
        Field("comment", TEXT, "Comment", ("feedback", "comments", "reason", "评论", "意见", "反馈", "留言", "原因")),
        Field("responded_at", DATETIME, "Responded At", ("date", "submitted at", "response date", "submitted", "日期", "提交时间", "填写时间", "回复时间"), required=True),
    ],
    label="external_id",
    help="NPS (0–10) and CSAT (1–5) answers",
)

LEAD_STATUS_ALIASES = {
    "mal": ("lead", "open - not contacted", "new", "marketing accepted lead", "线索", "新线索", "市场接受线索"),
    "mql": ("marketing qualified lead", "working - contacted", "市场合格线索", "营销合格线索"),
    "sql": ("sales qualified lead", "销售合格线索", "销售认可线索"),
    "converted": ("closed - converted", "已转化", "转化", "已转换", "customer"),
    "disqualified": ("closed - not converted", "unqualified", "无效", "不合格", "已关闭", "丢弃"),
}
LEADS = Kind(
    "leads",
    Lead,
    [
        ext_id("lead id", "线索编号", "线索id"),
        SOURCE,
        Field("name", TEXT, "Name", ("full name", "lead name", "姓名", "联系人", "名字")),
        Field("first_name", TEXT, "First Name", ("given name", "名"), virtual=True),
        Field("last_name", TEXT, "Last Name", ("surname", "family name", "姓"), virtual=True),
        Field("email", EMAIL, "Email", ("email address", "e-mail", "邮箱", "电子邮箱", "邮件")),
        Field("phone", TEXT, "Phone", ("phone number", "mobile", "mobile phone", "电话", "手机", "手机号", "联系电话")),
        Field("title", TEXT, "Title", ("job title", "职位", "职务")),
        Field("company", TEXT, "Company", ("company / account", "company name", "公司", "公司名称", "企业名称", "客户名称"), required=True),
        Field("source_channel", TEXT, "Lead Source", ("source channel", "source", "original source", "channel", "来源", "渠道", "线索来源", "来源渠道")),
        Field("status", CHOICE, "Status", ("lead status", "lifecycle stage", "状态", "线索状态", "阶段"), choice_aliases=LEAD_STATUS_ALIASES),
        Field("mal_at", DATETIME, "MAL At", ("created", "create date", "created date", "创建时间", "mal日期", "mal时间")),
        Field("mql_at", DATETIME, "MQL At", ("mql date", "became a marketing qualified lead date", "mql日期", "mql时间"), stamped=True),
        Field("sql_at", DATETIME, "SQL At", ("sql date", "became a sales qualified lead date", "sql日期", "sql时间"), stamped=True),
        Field("converted_at", DATETIME, "Converted At", ("converted date", "conversion date", "转化时间", "转化日期"), stamped=True),
        Field("disqualified_at", DATETIME, "Disqualified At", ("disqualified date", "无效时间", "关闭时间"), stamped=True),
        Field("disqualify_reason", TEXT, "Disqualify Reason", ("disqualified reason", "unqualified reason", "无效原因", "关闭原因")),
        Field("owner", USER, "Owner", (*OWNER, "lead owner", "contact owner")),
        ref("account", "accounts", "Account", ("account id", "converted account id", "客户编号", "转化客户")),
    ],
    label="name",
    account_path="account",
    fallback_key="email",
    required_groups=(("name", "first_name", "last_name"),),
    help="leads through MAL, MQL and SQL",
)

OPPORTUNITY_STAGE_ALIASES = {
    "qualify": ("prospecting", "qualification", "资格确认", "初步接洽", "线索确认", "appointmentscheduled", "qualifiedtobuy"),
    "discovery": ("needs analysis", "value proposition", "id. decision makers", "需求分析", "需求确认", "方案沟通", "presentationscheduled"),
    "proposal": ("proposal/price quote", "perception analysis", "方案报价", "报价", "方案", "decisionmakerboughtin"),
    "negotiation": ("negotiation/review", "商务谈判", "谈判", "合同谈判", "contractsent"),
    "won": ("closed won", "closedwon", "赢单", "成交", "已成交", "签约"),
    "lost": ("closed lost", "closedlost", "输单", "丢单", "失败", "已丢单"),
}
OPPORTUNITIES = Kind(
    "opportunities",
    Opportunity,
    [
        ext_id("opportunity id", "deal id", "商机编号", "商机id", "机会编号"),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        Field("name", TEXT, "Name", ("opportunity name", "deal name", "商机名称", "机会名称", "名称"), required=True),
        Field("type", CHOICE, "Type", ("opportunity type", "deal type", "类型", "商机类型"), choice_aliases={
            "new": ("new business", "newbusiness", "新购", "新签", "新客户"), "expansion": ("existing business", "upsell", "增购", "扩容", "追加"),
            "renewal": ("续约", "续费", "续签")}),
        # the pipeline and the stage are resolved together (clm.io.deal_stages): a stage is its pipeline's
        Field("pipeline", PIPELINE, "Pipeline", ("sales pipeline", "销售流程", "管道", "商机管道")),
        Field("stage", TEXT, "Stage", ("deal stage", "opportunity stage", "阶段", "商机阶段", "销售阶段")),
        Field("amount", DECIMAL, "Amount", ("deal amount", "金额", "商机金额", "预计金额"), minimum=0),
        Field("expected_close", DATE, "Expected Close", ("close date", "expected close date", "预计成交日期", "预计签约日期", "预计关闭日期")),
        Field("closed_on", DATE, "Closed On", ("closed date", "actual close date", "成交日期", "关闭日期"), stamped=True),
        Field("lost_reason", TEXT, "Lost Reason", ("closed lost reason", "loss reason", "输单原因", "丢单原因")),
        Field("owner", USER, "Owner", (*OWNER, "opportunity owner", "deal owner")),
        Field("forecast_category", CHOICE, "Forecast Category", ("forecast", "forecast call", "预测类别", "预测分类", "预测"), choice_aliases={
            "commit": ("承诺", "确定", "commit"), "best_case": ("best case", "最佳情况", "乐观"), "pipeline": ("管道", "pipeline", "可能"),
            "omitted": ("omit", "排除", "不计入")}),
    ],
    label="name",
    help="the sales pipeline; stage changes are kept as history",
)

CHANNEL_SPEND = Kind(
    "channel_spend",
    ChannelSpend,
    [
        Field("channel", TEXT, "Channel", ("marketing channel", "acquisition channel", "渠道", "投放渠道", "获客渠道"), required=True),
        Field("month", MONTH, "Month", ("period", "date", "月份", "月", "日期", "期间"), required=True),
        Field("amount", DECIMAL, "Amount", ("spend", "cost", "金额", "花费", "费用", "投放金额", "投入"), required=True, minimum=0),
    ],
    label="channel",
    account_path=None,
    key=("channel", "month"),
    help="marketing and sales spend per channel and month (for CAC)",
)

INTERACTION_TYPE_ALIASES = {
    "email": ("邮件", "e-mail"), "call": ("电话", "通话", "phone", "phone call"), "meeting": ("会议", "会面", "线上会议"),
    "visit": ("拜访", "上门", "上门拜访"), "qbr": ("季度业务复盘", "业务复盘", "quarterly business review"),
    "training": ("培训",), "event": ("活动", "市场活动"), "note": ("备注", "记录", "笔记"),
}
INTERACTIONS = Kind(
    "interactions",
    Interaction,
    [
        ext_id("activity id", "interaction id", "engagement id", "活动编号", "记录编号"),
        SOURCE,
        ref("account", "accounts", "Account", ACCOUNT_REF, required=True),
        ref("contact", "contacts", "Contact", CONTACT_REF),
        Field("type", CHOICE, "Type", ("activity type", "interaction type", "类型", "方式", "沟通方式"), required=True, choice_aliases=INTERACTION_TYPE_ALIASES),
        Field("direction", CHOICE, "Direction", ("方向",), choice_aliases={"inbound": ("呼入", "来访", "客户发起"), "outbound": ("呼出", "外呼", "我方发起"), "internal": ("内部",)}),
        Field("occurred_at", DATETIME, "Occurred At", ("date", "activity date", "time", "日期", "时间", "发生时间"), required=True),
        Field("owner", USER, "Owner", (*OWNER, "assigned to", "activity owner")),
        Field("summary", TEXT, "Summary", ("notes", "description", "body", "摘要", "内容", "纪要", "沟通内容"), required=True),
        Field("outcome", TEXT, "Outcome", ("result", "结果", "结论")),
    ],
    label="external_id",
    help="emails, calls, meetings, visits, QBRs on the account timeline",
)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        ACCOUNTS, CONTACTS, PRODUCTS, SUBSCRIPTIONS, ORDERS, PAYMENTS, USAGE_EVENTS, TICKETS,
        SURVEY_RESPONSES, LEADS, OPPORTUNITIES, CHANNEL_SPEND, INTERACTIONS,
    )
}
ALIASES = {"events": "usage_events", "usage": "usage_events", "surveys": "survey_responses", "spend": "channel_spend"}


class UnknownKind(ValueError):
    pass


def get_kind(name: str) -> Kind:
    name = ALIASES.get(name, name).replace("-", "_")
    if name not in KINDS:
        raise UnknownKind(_("unknown kind %(name)r: one of %(kinds)s") % {"name": name, "kinds": ", ".join(KINDS)})
    return KINDS[name]



def with_custom_fields(kind: Kind) -> Kind:
    """The kind with a column for each custom attribute registered for its records (accounts,
    contacts), recognised by the attribute's label or key."""
    from clm.core.models import CustomField

    target = CUSTOM_TARGETS.get(kind.name)
    if target is None or "custom" not in kind.by_name:
        return kind
    extra = [
        Field(
            f"custom.{cf.key}", CUSTOM_TYPES[cf.type], cf.label, (cf.key, f"custom.{cf.key}", f"custom {cf.key}"),
            required=False, virtual=True, custom=cf.key, match_name=False,
            choice_aliases={str(c): () for c in cf.choices} if cf.type == "choice" else {},
        )
        for cf in CustomField.objects.filter(target=target).order_by("key")
    ]
    if not extra:
        return kind
    return Kind(kind.name, kind.model, [*kind.fields, *extra], kind.label, kind.account_path, kind.key,
                kind.fallback_key, kind.required_groups, kind.audited, kind.chunk_rows, kind.help)
