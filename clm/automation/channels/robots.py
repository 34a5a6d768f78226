"""Group robots in DingTalk, WeCom, Feishu and Slack: each vendor's signing rule, message format
and way of saying that a message was refused (the Chinese ones answer HTTP 200 with a non-zero
errcode/code in the body).

- DingTalk custom robot: https://open.dingtalk.com/document/robots/customize-robot-security-settings
  (timestamp in ms + sign = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))) in
  the query) and https://open.dingtalk.com/document/robots/custom-robot-access (markdown message).
- WeCom group robot: https://developer.work.weixin.qq.com/document/path/91770 (key in the URL,
  markdown content at most 4096 bytes).
- Feishu custom bot: https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot (timestamp
  in s + sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) in the body).
- Slack incoming webhook: https://api.slack.com/messaging/webhooks with Block Kit blocks."""

import base64
import hashlib
import hmac
import re
import time
import uuid
from urllib.parse import quote_plus, urlsplit, urlunsplit

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from clm.automation.channels import tracking
from clm.automation.channels.deliveries import claim
from clm.automation.channels.webhooks import post
from clm.automation.models import Delivery, Robot
from clm.core import outbound

WECOM_MAX_BYTES = 4096


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def slack_mrkdwn(markdown: str) -> str:
    """Slack's mrkdwn from common Markdown: [text](url) -> <url|text>, **bold** -> *bold*."""
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", markdown)
    return re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[: limit - 3].decode("utf-8", "ignore") + "…"


def message(
    robot: Robot, title: str, text: str, link: str | None, now: float | None = None
) -> tuple[str, dict]:
    """The URL to post to and the body, in the robot's vendor's format."""
    now = time.time() if now is None else now
    url = robot.url
    with translation.override(settings.LANGUAGE_CODE):
        open_label = _("Open in CLM")
    if robot.kind == Robot.Kind.DINGTALK:
        body_text = f"### {title}\n\n{text}" + (f"\n\n[{open_label}]({link})" if link else "")
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": body_text}}
        if robot.secret:
            stamp = int(now * 1000)
            url = _with_query(url, f"timestamp={stamp}&sign={dingtalk_sign(robot.secret, stamp)}")
        return url, body
    if robot.kind == Robot.Kind.WECOM:
        content = f"**{title}**\n{text}" + (f"\n[{open_label}]({link})" if link else "")
        return url, {
            "msgtype": "markdown",
            "markdown": {"content": _truncate_bytes(content, WECOM_MAX_BYTES)},
        }
    if robot.kind == Robot.Kind.FEISHU:
        elements = [{"tag": "markdown", "content": text}]
        if link:
            elements.append(
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": open_label},
                            "url": link,
                            "type": "primary",
                        }
                    ],
                }
            )
        body = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": elements,
            },
        }
        if robot.secret:
            stamp = int(now)
            body = {"timestamp": str(stamp), "sign": feishu_sign(robot.secret, stamp), **body}
        return url, body
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_mrkdwn(text)[:3000]}},
    ]
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": open_label}, "url": link}
                ],
            }
        )
    return url, {"text": title, "blocks": blocks}


def _with_query(url: str, extra: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def answer_problem(kind: str, response: outbound.Response) -> str | None:
    """What went wrong according to a 2xx answer, or None when the robot took the message."""
    if kind == Robot.Kind.SLACK:
        return None if response.body.strip() == b"ok" else f"Slack answered {response.text()!r}"
    data = response.json()
    if not isinstance(data, dict):
        return f"{kind} answered something that is not JSON: {response.text()!r}"
    if kind == Robot.Kind.FEISHU:
        code = data.get("code", data.get("StatusCode", 0))
        message_text = data.get("msg", data.get("StatusMessage", ""))
    else:
        code, message_text = data.get("errcode", 0), data.get("errmsg", "")
    return None if code == 0 else f"{kind} error {code}: {message_text}"


def notify_robot(*, robot: Robot, title: str, text_markdown: str, link: str | None, key: str) -> Delivery:
    """Post a Markdown card with a link (a path is made absolute with CLM_PUBLIC_URL), once per key."""
    delivery, mine = claim(
        key,
        Delivery.Channel.ROBOT,
        refusal=lambda: (
            None if robot.active else (Delivery.Reason.INACTIVE, f"robot {robot.name!r} is switched off")
        ),
        robot=robot,
        subject=title[:300],
    )
    if not mine:
        return delivery
    if link and link.startswith("/"):
        link = tracking.absolute(link)
    url, body = message(robot, title, text_markdown, link)
    return post(delivery, url, body, check=lambda response: answer_problem(robot.kind, response))


def send_test(robot: Robot) -> Delivery:
    """A test message an administrator asks for."""
    with translation.override(settings.LANGUAGE_CODE):
        title, text = _("CLM test message"), _("If you can read this, the robot is set up.")
    key = f"test:robot:{robot.pk}:{uuid.uuid4().hex}"
    return notify_robot(robot=robot, title=title, text_markdown=text, link="/", key=key)
