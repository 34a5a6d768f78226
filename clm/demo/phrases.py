"""The phrases the demo's tickets, survey comments and interactions are written in."""

TICKET_CATEGORIES = ["question", "bug", "feature_request", "billing", "integration", "complaint"]
TICKET_CATEGORY_WEIGHTS = [38, 26, 14, 8, 10, 4]
TICKET_SUBJECTS = {
    "question": [
        "如何设置多级审批？",
        "项目模板怎么复制",
        "数据看板如何添加自定义指标",
        "移动端无法收到消息提醒",
        "新员工账号如何批量导入",
        "工单如何自动派发",
    ],
    "bug": [
        "审批流程提交后卡在待处理",
        "数据看板加载缓慢",
        "导出Excel乱码",
        "移动打卡定位不准",
        "任务提醒重复推送",
        "设备监控数据延迟",
    ],
    "feature_request": [
        "希望支持钉钉单点登录",
        "需要按车间统计工单时长",
        "建议增加审批超时自动升级",
        "希望看板支持大屏模式",
    ],
    "billing": ["发票抬头需要更改", "续费报价咨询", "席位数量与合同不符", "付款后未开通增购席位"],
    "integration": ["与金蝶ERP对接失败", "企业微信同步组织架构报错", "开放API调用限流", "与MES系统数据对接"],
    "complaint": [
        "问题反馈一周无人跟进",
        "系统频繁宕机影响生产",
        "升级后功能不可用，严重影响使用",
        "客服响应太慢，要求升级处理",
    ],
}

NPS_COMMENTS = {
    "promoter": [
        "产品稳定，审批效率提升明显",
        "客户成功团队很专业，响应及时",
        "看板帮助管理层决策，愿意推荐给同行",
        "上线快，员工接受度高",
        "",
    ],
    "passive": ["整体还可以，部分功能不够灵活", "价格略高，期待更多行业功能", "移动端体验有待提升", ""],
    "detractor": [
        "问题响应太慢",
        "功能不满足我们的业务需求",
        "性价比不高，在评估其他方案",
        "系统不稳定，影响日常工作",
        "原来的对接人离职后没人跟进",
    ],
}

INTERACTIONS = {
    "sales": [
        ("call", "outbound", "初步沟通需求：{pain}", "确认需求，约演示"),
        ("meeting", "outbound", "产品演示：审批流程与项目协同", "客户认可演示效果"),
        ("visit", "outbound", "上门拜访，梳理{pain}相关流程", "拿到需求清单"),
        ("email", "outbound", "发送方案与报价", "等待客户内部评审"),
        ("meeting", "outbound", "商务谈判：价格与付款条件", "推进合同流程"),
        ("call", "inbound", "客户咨询私有化部署方案", "安排售前跟进"),
    ],
    "onboarding": [
        ("meeting", "outbound", "项目启动会：明确上线目标与里程碑", "确定上线计划"),
        ("training", "outbound", "管理员培训：组织架构与权限配置", "完成基础配置"),
        ("training", "outbound", "全员使用培训：审批与任务", "培训完成"),
    ],
    "csm": [
        ("call", "outbound", "例行回访：了解近期使用情况", "客户反馈正常"),
        ("email", "outbound", "发送月度使用报告", ""),
        ("email", "inbound", "客户咨询新功能上线计划", "已答复"),
        ("call", "outbound", "跟进未解决工单", "问题已安排处理"),
        ("note", "internal", "客户提到{pain}，可推荐行业模块", ""),
        ("visit", "outbound", "现场拜访，了解业务扩张计划", "发现增购机会"),
    ],
    "qbr": [("qbr", "outbound", "季度业务复盘（QBR）：回顾使用数据与业务目标", "确定下季度改进项")],
    "risk": [
        ("call", "outbound", "风险跟进：使用率下降原因沟通", "客户表示近期业务调整"),
        ("note", "internal", "客户反馈：{cause}", "列入重点关注"),
        ("email", "inbound", "客户询问合同到期后数据导出方式", "已提供导出说明"),
    ],
    "renewal": [
        ("call", "outbound", "续约沟通：确认续约意向与席位", "客户同意按期续约"),
        ("email", "outbound", "发送续约报价", "等待客户审批"),
    ],
    "winback": [
        ("call", "outbound", "回访流失客户，了解现状", "客户有重新合作意向"),
        ("meeting", "outbound", "重新合作方案沟通", "推进签约"),
    ],
}
