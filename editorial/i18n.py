"""The review page's own words in English and Chinese: one table per language, the same keys.

Only the page's interface is translated. Content (prompts, notes, titles, findings, reasons,
statuses, server messages) is shown as it is. A string may hold `{name}` placeholders,
filled by `translator`; what it returns is plain text, so the templates still escape it
whole, values included. The language comes from `?lang=` (then a cookie), else the
browser's Accept-Language; only the codes in LANGUAGES are ever used or echoed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

LANGUAGES = ("en", "zh")
DEFAULT = "en"
COOKIE = "reelgate_lang"
HTML_LANG = {"en": "en", "zh": "zh-CN"}

EN: dict[str, str] = {
    # every page
    "site": "reelgate review",
    "title.review": "review",
    "signed_in": "signed in as {name}",
    "lang.switch": "Language",
    "lang.en": "English",
    "lang.zh": "中文",
    # the queue
    "queue.title": "queue",
    "queue.waiting": "Waiting for review",
    "queue.empty": "No episode is waiting for review.",
    "queue.episode": "Episode",
    "queue.series": "Series",
    "queue.age": "Waiting",
    "queue.since": "Since",
    "queue.expires": "Expires",
    "queue.status": "Status",
    "queue.decided": "Recently decided",
    "queue.none_decided": "Nothing decided yet.",
    "queue.decision": "Decision",
    "queue.by": "By",
    "queue.when": "When",
    "queue.new": "New episode",
    "age.d": "d",
    "age.h": "h",
    "age.min": "min",
    # shortcuts
    "keys.legend": "Keys",
    "keys.help": "Keyboard shortcuts",
    "keys.all": "all shortcuts",
    "keys.next": "next episode",
    "keys.prev": "previous episode",
    "keys.open": "open the selected episode",
    "keys.play": "play / pause",
    "keys.frame_back": "one frame back",
    "keys.frame_forward": "one frame forward",
    "keys.finding": "jump to the next finding",
    "keys.approve": "approve (asks to confirm)",
    "keys.reject": "reject (asks to confirm; needs notes)",
    "keys.regenerate": "regenerate the ticked shots (asks to confirm)",
    "keys.confirm": "confirm the decision",
    "keys.cancel": "cancel",
    "keys.toggle_help": "show or hide this help",
    "keys.typing": "Shortcuts do nothing while you type in a text box.",
    "keys.close": "Close",
    # the episode page
    "ep.series": "series {series}",
    "ep.status": "status",
    "ep.verdict": "verdict {verdict}",
    "ep.round": "review round {round}",
    "ep.expires": "expires {when}",
    "ep.version": "version",
    "ep.version_detail": "{id} (line {line}, review round {round}, run {run}, video sha256 {sha}…)",
    "ep.no_version_yet": "no version (the episode has not reached the review gate)",
    "ep.replaces": "Replaces",
    "ep.replaced_line": "line {line} (\"{request}\"{version}, kept in {folder})",
    "ep.replaced_version": ", version {version}",
    "ep.replaced_refused": "decisions on those versions are refused.",
    "ep.sent": "Your decision ({decision}) was sent; the status above follows the run.",
    "ep.no_video": "No video yet.",
    "ep.subtitles": "subtitles",
    "ep.contact_sheet": "Contact sheet",
    "ep.findings": "Findings",
    "ep.shot": "shot {n}",
    "ep.no_findings": "No flagged frames.",
    "ep.decision": "Decision",
    "ep.not_yours": "You are signed in as {reviewer}: you may watch this episode, but only {reviewers} may decide "
                    "it (the series' review.reviewers).",
    "ep.notes": "Notes",
    "ep.notes_hint": "What you saw; required to reject; for regenerate, what to change",
    "ep.shots_to_regenerate": "Shots to regenerate",
    "ep.approve": "Approve",
    "ep.reject": "Reject",
    "ep.regenerate": "Regenerate shots",
    "ep.you_decide": "You decide as {reviewer}, on version {version}.",
    "ep.no_version": "(none)",
    "ep.not_waiting": "Not waiting for review",
    "ep.decided_by": "{decision} by {reviewer}",
    "ep.rounds": "Review rounds",
    "ep.round_shots": "shots {shots}",
    "ep.round_by": "by {reviewer}, {when}",
    "ep.not_carried_out": "not carried out: {why}",
    "ep.prev": "← previous",
    "ep.next": "next →",
    "ep.position": "{n} of {total} waiting",
    "ep.prompt": "Prompt as written",
    "ep.structured": "As structured",
    "ep.plan_meta": "language {language} · style {style} · seed {seed}",
    "ep.planned_by": "planned by the {kind} rewriter",
    "ep.rewriter_unused": "rewriter not used: {note}",
    "ep.directions": "Directions (not narrated): {directions}",
    "ep.col.starts": "Starts",
    "ep.col.text": "Text",
    "ep.col.what": "Subject / action / setting",
    "ep.col.camera": "Camera · size · angle",
    "ep.col.time": "Time · weather · mood",
    "ep.col.prompt": "Prompt sent",
    "ep.no_plan": "No plan (the prompt stopped at screening).",
    # a refused decision (no script)
    "refused.title": "not recorded",
    "refused.heading": "Your decision was not recorded",
    "refused.reload": "Reload the episode",
    "refused.reload_rest": "to see what is at the review gate now.",
    # a new episode
    "new.title": "new episode",
    "new.heading": "New episode",
    "new.story": "Story",
    "new.story_hint": "One or more sentences, Chinese or English; each sentence becomes a shot.",
    "new.language": "Language",
    "new.language.auto": "detect",
    "new.language.zh": "Chinese",
    "new.language.en": "English",
    "new.preset": "Style preset",
    "new.preset.default": "the worker's default",
    "new.title_field": "Title",
    "new.series": "Series id (optional)",
    "new.episode_id": "Episode id (optional)",
    "new.episode_id_hint": "Empty: ep-<time>-<hash>, as the CLI makes it.",
    "new.screening": "Screening",
    "new.plan": "Plan shots",
    "new.start": "Start",
    "new.plan_heading": "Shot plan",
    "new.plan_hint": "Edit the fields; the prompt sent to the model is rebuilt from them when the episode starts.",
    "new.col.duration": "Seconds",
    "new.col.subject": "Subject",
    "new.col.action": "Action",
    "new.col.environment": "Setting",
    "new.col.camera": "Camera",
    "new.col.shot_size": "Size",
    "new.col.time_of_day": "Time",
    "new.col.weather": "Weather",
    # the page's script
    "js.done": "Done: {status}.",
    "js.sending": "Sending {decision}…",
    "js.not_sent": "Not sent: {error}",
    "js.answered": "the page answered {status}",
    "js.sent": "Sent: {decision}. The run resumes; status {status}.",
    "js.confirm.approve": "Approve this episode? Enter confirms, Esc cancels.",
    "js.confirm.reject": "Reject this episode? Enter confirms, Esc cancels.",
    "js.confirm.regenerate": "Regenerate the ticked shots? Enter confirms, Esc cancels.",
    "js.cancelled": "Cancelled; nothing was sent.",
    "js.no_findings": "No findings to jump to.",
    "js.finding_at": "Finding at {time} s",
    "js.screen.empty": "Write a story to screen it.",
    "js.screen.busy": "Screening…",
    "js.screen.allow": "Clean: nothing listed was found.",
    "js.screen.review": "Needs review: the episode may be produced, an editor will look at these.",
    "js.screen.block": "Blocked: this story cannot be started. Change the marked words.",
    "js.screen.failed": "Screening failed: {error}",
    "js.plan.busy": "Planning…",
    "js.plan.failed": "Not planned: {error}",
    "js.plan.shots": "{count} shots",
    "js.start.busy": "Starting…",
    "js.start.failed": "Not started: {error}",
    "js.start.started": "Started: episode {episode}. ",
    "js.start.attached": "Already running: episode {episode}. ",
    "js.start.open": "Open it",
}

ZH: dict[str, str] = {
    "site": "reelgate 审核",
    "title.review": "审核",
    "signed_in": "已登录：{name}",
    "lang.switch": "语言",
    "lang.en": "English",
    "lang.zh": "中文",
    "queue.title": "队列",
    "queue.waiting": "待审核",
    "queue.empty": "没有等待审核的剧集。",
    "queue.episode": "剧集",
    "queue.series": "系列",
    "queue.age": "已等待",
    "queue.since": "开始等待",
    "queue.expires": "过期时间",
    "queue.status": "状态",
    "queue.decided": "最近的决定",
    "queue.none_decided": "还没有任何决定。",
    "queue.decision": "决定",
    "queue.by": "审核人",
    "queue.when": "时间",
    "queue.new": "新建剧集",
    "age.d": "天",
    "age.h": "小时",
    "age.min": "分钟",
    "keys.legend": "快捷键",
    "keys.help": "键盘快捷键",
    "keys.all": "全部快捷键",
    "keys.next": "下一集",
    "keys.prev": "上一集",
    "keys.open": "打开选中的剧集",
    "keys.play": "播放 / 暂停",
    "keys.frame_back": "后退一帧",
    "keys.frame_forward": "前进一帧",
    "keys.finding": "跳到下一个发现",
    "keys.approve": "通过（需确认）",
    "keys.reject": "拒绝（需确认；须写备注）",
    "keys.regenerate": "重新生成勾选的镜头（需确认）",
    "keys.confirm": "确认决定",
    "keys.cancel": "取消",
    "keys.toggle_help": "显示或隐藏本帮助",
    "keys.typing": "在文本框中输入时快捷键不起作用。",
    "keys.close": "关闭",
    "ep.series": "系列 {series}",
    "ep.status": "状态",
    "ep.verdict": "判定 {verdict}",
    "ep.round": "第 {round} 轮审核",
    "ep.expires": "过期 {when}",
    "ep.version": "版本",
    "ep.version_detail": "{id}（第 {line} 条，第 {round} 轮审核，运行 {run}，视频 sha256 {sha}…）",
    "ep.no_version_yet": "没有版本（本集还没有到达审核关口）",
    "ep.replaces": "替换了",
    "ep.replaced_line": "第 {line} 条（“{request}”{version}，保存在 {folder}）",
    "ep.replaced_version": "，版本 {version}",
    "ep.replaced_refused": "对这些版本的决定会被拒绝。",
    "ep.sent": "你的决定（{decision}）已发送；上面的状态会随运行更新。",
    "ep.no_video": "还没有视频。",
    "ep.subtitles": "字幕",
    "ep.contact_sheet": "缩略图总览",
    "ep.findings": "发现",
    "ep.shot": "镜头 {n}",
    "ep.no_findings": "没有被标记的画面。",
    "ep.decision": "决定",
    "ep.not_yours": "你以 {reviewer} 的身份登录：你可以观看本集，但只有 {reviewers} 可以做决定（系列的 review.reviewers）。",
    "ep.notes": "备注",
    "ep.notes_hint": "你看到了什么；拒绝时必填；重新生成时写明要改什么",
    "ep.shots_to_regenerate": "要重新生成的镜头",
    "ep.approve": "通过",
    "ep.reject": "拒绝",
    "ep.regenerate": "重新生成镜头",
    "ep.you_decide": "你以 {reviewer} 的身份对版本 {version} 做决定。",
    "ep.no_version": "（无）",
    "ep.not_waiting": "不在等待审核",
    "ep.decided_by": "{reviewer} 决定：{decision}",
    "ep.rounds": "审核轮次",
    "ep.round_shots": "镜头 {shots}",
    "ep.round_by": "由 {reviewer}，{when}",
    "ep.not_carried_out": "未执行：{why}",
    "ep.prev": "← 上一集",
    "ep.next": "下一集 →",
    "ep.position": "待审核第 {n} / {total} 集",
    "ep.prompt": "原始提示词",
    "ep.structured": "结构化结果",
    "ep.plan_meta": "语言 {language} · 风格 {style} · 种子 {seed}",
    "ep.planned_by": "由 {kind} 改写器规划",
    "ep.rewriter_unused": "未使用改写器：{note}",
    "ep.directions": "指示（不朗读）：{directions}",
    "ep.col.starts": "开始",
    "ep.col.text": "文本",
    "ep.col.what": "主体 / 动作 / 场景",
    "ep.col.camera": "运镜 · 景别 · 角度",
    "ep.col.time": "时间 · 天气 · 情绪",
    "ep.col.prompt": "发送的提示词",
    "ep.no_plan": "没有分镜（提示词在筛查时被拦下）。",
    "refused.title": "未记录",
    "refused.heading": "你的决定没有被记录",
    "refused.reload": "重新加载本集",
    "refused.reload_rest": "查看审核关口现在的内容。",
    "new.title": "新建剧集",
    "new.heading": "新建剧集",
    "new.story": "故事",
    "new.story_hint": "一句或多句，中文或英文；每句成为一个镜头。",
    "new.language": "语言",
    "new.language.auto": "自动识别",
    "new.language.zh": "中文",
    "new.language.en": "英文",
    "new.preset": "风格预设",
    "new.preset.default": "工作进程的默认值",
    "new.title_field": "标题",
    "new.series": "系列 id（可选）",
    "new.episode_id": "剧集 id（可选）",
    "new.episode_id_hint": "留空：ep-<时间>-<哈希>，与命令行相同。",
    "new.screening": "筛查",
    "new.plan": "规划镜头",
    "new.start": "开始",
    "new.plan_heading": "分镜",
    "new.plan_hint": "编辑这些字段；剧集开始时会据此重建发送给模型的提示词。",
    "new.col.duration": "秒数",
    "new.col.subject": "主体",
    "new.col.action": "动作",
    "new.col.environment": "场景",
    "new.col.camera": "运镜",
    "new.col.shot_size": "景别",
    "new.col.time_of_day": "时间",
    "new.col.weather": "天气",
    "js.done": "完成：{status}。",
    "js.sending": "正在发送 {decision}…",
    "js.not_sent": "未发送：{error}",
    "js.answered": "页面返回 {status}",
    "js.sent": "已发送：{decision}。运行继续；状态 {status}。",
    "js.confirm.approve": "通过本集？按 Enter 确认，Esc 取消。",
    "js.confirm.reject": "拒绝本集？按 Enter 确认，Esc 取消。",
    "js.confirm.regenerate": "重新生成勾选的镜头？按 Enter 确认，Esc 取消。",
    "js.cancelled": "已取消；没有发送任何内容。",
    "js.no_findings": "没有可跳转的发现。",
    "js.finding_at": "发现位于 {time} 秒",
    "js.screen.empty": "写下故事即可筛查。",
    "js.screen.busy": "正在筛查…",
    "js.screen.allow": "通过：没有发现列出的词语。",
    "js.screen.review": "需要审核：可以制作，编辑会查看这些内容。",
    "js.screen.block": "已拦截：这个故事不能开始。请修改标出的词语。",
    "js.screen.failed": "筛查失败：{error}",
    "js.plan.busy": "正在规划…",
    "js.plan.failed": "未能规划：{error}",
    "js.plan.shots": "{count} 个镜头",
    "js.start.busy": "正在开始…",
    "js.start.failed": "未开始：{error}",
    "js.start.started": "已开始：剧集 {episode}。",
    "js.start.attached": "已在运行：剧集 {episode}。",
    "js.start.open": "打开",
}

TABLES = {"en": EN, "zh": ZH}

_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$")


def from_accept_language(header: str | None) -> str:
    """The first of LANGUAGES the browser prefers (by q, then order); DEFAULT when none fits."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((header or "")[:1000].split(",")[:50]):
        match = _RANGE.match(part)
        if not match or match[1].lower() not in LANGUAGES:
            continue
        try:
            q = float(match[2]) if match[2] else 1.0
        except ValueError:
            continue
        if q > 0 and (best is None or (-q, position) < (-best[0], best[1])):
            best = (q, position, match[1].lower())
    return best[2] if best else DEFAULT


def choose_language(asked: str | None, remembered: str | None, accept_language: str | None) -> str:
    """`?lang=` if it names a language here, else the cookie's if it does, else Accept-Language's."""
    for value in (asked, remembered):
        if value in LANGUAGES:
            return value
    return from_accept_language(accept_language)


def translator(language: str) -> Callable[..., str]:
    """t(key, **values): the key's text in `language`, its `{name}` placeholders filled; KeyError if unknown."""
    table = TABLES[language]

    def t(key: str, **values: object) -> str:
        text = table[key]
        return text.format(**values) if values else text

    return t


def script_strings(language: str) -> dict[str, str]:
    """The strings the page's script shows (keys starting js.), for the page to carry as data."""
    return {k: v for k, v in TABLES[language].items() if k.startswith("js.")}
