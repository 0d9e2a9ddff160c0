/*
 * schema.c - the record kinds of the three offices, declared once.
 *
 * Each kind is a replicated table: `id` and `scope` (the engine's), the
 * columns every record has (number, who recorded it and when, who changed
 * it last and when), and the kind's fields.  From the same declarations
 * come the DDL, the indexes, the validation triggers that refuse a bad
 * local write (whether it came through a command, the web app or
 * `tiersync sql`), the command-line flags and the help text.
 *
 * Triggers fire only for local writes (ts_check() is 0 while the engine
 * applies txns from peers or settles a conflict): records from peers are
 * never refused for domain rules.  Adding a kind or a field is a new
 * schema version (node_int.h SCHEMA_VERSION).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "node_int.h"

/* ---- Choices ------------------------------------------------------------ */

static const struct tsync_choice tiers[] = {
	{"district", "区"}, {"street", "街道"}, {"village", "村（社区）"},
	{"grid", "网格"}, {NULL, NULL},
};
static const struct tsync_choice units[] = {
	{"judicial", "司法所"}, {"police", "派出所"}, {"lawfirm", "律师事务所"},
	{"village", "村（居）委会"}, {"grid", "网格员"}, {NULL, NULL},
};
static const struct tsync_choice categories[] = {
	{"land", "征地拆迁"}, {"family", "家庭纠纷"}, {"marriage", "婚姻纠纷"},
	{"neighbour", "邻里纠纷"}, {"labour", "劳动争议"},
	{"traffic", "交通事故损害"}, {"property", "物业纠纷"},
	{"other", "其他"}, {NULL, NULL},
};
static const struct tsync_choice sources[] = {
	{"walkin", "来访"}, {"grid", "网格上报"}, {"police", "公安移交"},
	{"petition", "信访转办"}, {"screening", "排查发现"}, {NULL, NULL},
};
static const struct tsync_choice risks[] = {
	{"low", "低"}, {"medium", "中"}, {"high", "高"}, {"major", "重大"},
	{NULL, NULL},
};
static const struct tsync_choice leads[] = {
	{"judicial", "司法所"}, {"police", "派出所"}, {"lawfirm", "律师事务所"},
	{"joint", "三所联合"}, {NULL, NULL},
};
static const struct tsync_choice dispute_states[] = {
	{"registered", "已登记"}, {"mediating", "调解中"},
	{"resolved", "调解成功"}, {"failed", "调解失败"},
	{"referred", "已移交诉讼或仲裁"}, {NULL, NULL},
};
static const struct tsync_choice referrals[] = {
	{"court", "法院"}, {"arbitration", "仲裁委员会"}, {NULL, NULL},
};
static const struct tsync_choice session_outcomes[] = {
	{"agreed", "达成协议"}, {"partial", "部分达成"}, {"none", "未达成"},
	{"adjourned", "择期再调"}, {NULL, NULL},
};
static const struct tsync_choice became[] = {
	{"none", "未转化"}, {"dispute", "转为纠纷"}, {"petition", "转为信访"},
	{NULL, NULL},
};
static const struct tsync_choice triages[] = {
	{"legal", "涉法涉诉"}, {"nonlegal", "非涉法涉诉"}, {NULL, NULL},
};
static const struct tsync_choice routes[] = {
	{"court", "法院"}, {"procuratorate", "检察院"}, {"police", "公安机关"},
	{"justice", "司法局"}, {"government", "政府部门"},
	{"local", "属地化解"}, {NULL, NULL},
};
static const struct tsync_choice petition_states[] = {
	{"received", "已受理"}, {"routed", "已分流"}, {"handling", "办理中"},
	{"closed", "已办结"}, {NULL, NULL},
};
static const struct tsync_choice event_kinds[] = {
	{"lecture", "法治讲座"}, {"saturday", "周六学法课堂"},
	{"youth", "青少年法治学校"}, {"quiz", "知识竞赛"},
	{"mocktrial", "模拟法庭"}, {"enterprise", "走访企业"}, {NULL, NULL},
};
static const struct tsync_choice special_kinds[] = {
	{"corrections", "社区矫正"}, {"released", "刑满释放"},
	{"minor", "重点未成年人"}, {"elderly", "老年人权益"}, {NULL, NULL},
};
static const struct tsync_choice special_states[] = {
	{"active", "在管"}, {"ended", "已解除"}, {NULL, NULL},
};
static const struct tsync_choice meeting_kinds[] = {
	{"weekly", "周例会"}, {"monthly", "月度分析会"},
	{"quarterly", "季度研判会"}, {"annual", "年度总结会"},
	{"major", "重大事项会商"}, {NULL, NULL},
};
static const struct tsync_choice grid_states[] = {
	{"open", "待处理"}, {"converted", "已转纠纷"}, {"closed", "已处理"},
	{NULL, NULL},
};

/* ---- Kinds ----------------------------------------------------------- */

#define F(name, label, type, req, ch, ref, help) \
	{name, label, TSYNC_FT_##type, req, ch, ref, help}
#define NF(a) ((int)(sizeof(a) / sizeof(a[0])))

static const struct tsync_field office_f[] = {
	F("path", "辖区路径", SCOPE, 1, NULL, NULL,
	  "the office's scope path, e.g. gangzha/qinzao/feiqiao"),
	F("name", "名称", TEXT, 1, NULL, NULL, "display name, e.g. 费桥村"),
	F("short", "简称", TEXT, 0, NULL, NULL,
	  "short name used in record numbers, e.g. 费桥"),
	F("tier", "层级", ENUM, 1, tiers, NULL, "district, street, village, grid"),
	F("judicial", "司法所", TEXT, 0, NULL, NULL, "the judicial office"),
	F("police", "派出所", TEXT, 0, NULL, NULL, "the police station"),
	F("lawfirm", "律师事务所", TEXT, 0, NULL, NULL, "the law firm"),
};
static const struct tsync_field staff_f[] = {
	F("name", "姓名", TEXT, 1, NULL, NULL, "the person's name"),
	F("unit", "单位", ENUM, 1, units, NULL, "which of the offices"),
	F("office", "所在辖区", SCOPE, 1, NULL, NULL, "scope path of the office"),
	F("title", "职务", TEXT, 0, NULL, NULL, "post, e.g. 值班律师"),
	F("phone", "电话", TEXT, 0, NULL, NULL, "phone number"),
};
static const struct tsync_field dispute_f[] = {
	F("title", "事由", TEXT, 1, NULL, NULL, "a short title"),
	F("category", "类别", ENUM, 1, categories, NULL, "kind of dispute"),
	F("source", "来源", ENUM, 1, sources, NULL, "how it reached the office"),
	F("parties", "当事人", LIST, 1, NULL, NULL, "the parties, 、-separated"),
	F("summary", "纠纷简要", TEXT, 0, NULL, NULL, "what happened"),
	F("risk", "风险等级", ENUM, 1, risks, NULL, "low, medium, high, major"),
	F("lead", "牵头单位", ENUM, 1, leads, NULL, "who leads the mediation"),
	F("status", "状态", ENUM, 1, dispute_states, NULL,
	  "registered -> mediating -> resolved | failed -> referred"),
	F("opened", "登记日期", DATE, 1, NULL, NULL, "date registered"),
	F("closed", "结案日期", DATE, 0, NULL, NULL, "date closed"),
	F("outcome", "调解结果", TEXT, 0, NULL, NULL,
	  "how it ended (needed to close)"),
	F("agreement", "协议内容", TEXT, 0, NULL, NULL, "the agreement text"),
	F("referred_to", "移交去向", ENUM, 0, referrals, NULL,
	  "court or arbitration (needed to refer)"),
	F("grid_report", "来源网格报告", REF, 0, NULL, "grid",
	  "the grid report it came from"),
};
static const struct tsync_field mediation_f[] = {
	F("dispute", "纠纷", REF, 1, NULL, "dispute", "the dispute (id or number)"),
	F("date", "调解日期", DATE, 1, NULL, NULL, "date of the session"),
	F("participants", "参加人员", LIST, 1, NULL, NULL,
	  "who took part, with their units: 王芳（司法所）、李强（派出所）"),
	F("result", "本次结果", ENUM, 1, session_outcomes, NULL,
	  "agreed, partial, none, adjourned"),
	F("agreement", "协议内容", TEXT, 0, NULL, NULL, "agreement reached"),
	F("notes", "调解记录", TEXT, 0, NULL, NULL, "notes of the session"),
};
static const struct tsync_field consult_f[] = {
	F("lawyer", "接待律师", TEXT, 1, NULL, NULL, "the duty lawyer"),
	F("asker", "咨询人", TEXT, 0, NULL, NULL, "who asked"),
	F("topic", "咨询主题", TEXT, 1, NULL, NULL, "topic, e.g. 土地承包"),
	F("question", "咨询问题", TEXT, 1, NULL, NULL, "the question"),
	F("answer", "解答意见", TEXT, 0, NULL, NULL, "the lawyer's answer"),
	F("date", "咨询日期", DATE, 1, NULL, NULL, "date"),
	F("became", "后续转化", ENUM, 0, became, NULL,
	  "none, dispute or petition"),
};
static const struct tsync_field petition_f[] = {
	F("petitioner", "信访人", TEXT, 1, NULL, NULL, "who petitions"),
	F("subject", "信访事项", TEXT, 1, NULL, NULL, "what is asked"),
	F("category", "类别", ENUM, 1, categories, NULL, "kind of matter"),
	F("received", "受理日期", DATE, 1, NULL, NULL, "date received"),
	F("lawyer", "分析律师", TEXT, 0, NULL, NULL, "lawyer of the triage"),
	F("triage", "律师初判", ENUM, 1, triages, NULL,
	  "legal (law and litigation) or nonlegal"),
	F("advice", "法律意见", TEXT, 0, NULL, NULL, "the lawyer's analysis"),
	F("routed_to", "分流去向", ENUM, 0, routes, NULL,
	  "court, procuratorate, police, justice, government, local"),
	F("status", "状态", ENUM, 1, petition_states, NULL,
	  "received -> routed -> handling -> closed"),
	F("closed", "办结日期", DATE, 0, NULL, NULL, "date closed"),
};
static const struct tsync_field event_f[] = {
	F("kind", "活动类型", ENUM, 1, event_kinds, NULL, "kind of event"),
	F("title", "主题", TEXT, 1, NULL, NULL, "title"),
	F("date", "日期", DATE, 1, NULL, NULL, "date held"),
	F("place", "地点", TEXT, 1, NULL, NULL, "where"),
	F("speakers", "主讲人", LIST, 0, NULL, NULL, "speakers"),
	F("audience", "受众人数", INT, 1, NULL, NULL, "how many attended"),
};
static const struct tsync_field special_f[] = {
	F("kind", "对象类别", ENUM, 1, special_kinds, NULL, "kind of file"),
	F("person", "姓名", TEXT, 1, NULL, NULL, "the person"),
	F("supervisor", "责任单位", ENUM, 1, units, NULL, "supervising unit"),
	F("since", "起始日期", DATE, 1, NULL, NULL, "start of the period"),
	F("until", "终止日期", DATE, 0, NULL, NULL, "end of the period"),
	F("status", "状态", ENUM, 1, special_states, NULL, "active or ended"),
	F("notes", "情况说明", TEXT, 0, NULL, NULL, "notes"),
};
static const struct tsync_field visit_f[] = {
	F("file", "对象档案", REF, 1, NULL, "person", "the file (id or number)"),
	F("date", "走访日期", DATE, 1, NULL, NULL, "date of the visit"),
	F("visitors", "走访人员", LIST, 1, NULL, NULL, "who visited"),
	F("notes", "走访情况", TEXT, 0, NULL, NULL, "what was found"),
};
static const struct tsync_field risk_f[] = {
	F("subject", "评估事项", TEXT, 1, NULL, NULL, "what is assessed"),
	F("level", "风险等级", ENUM, 1, risks, NULL, "low, medium, high, major"),
	F("measures", "防控措施", TEXT, 1, NULL, NULL, "measures set"),
	F("date", "评估日期", DATE, 1, NULL, NULL, "date"),
	F("disputes", "关联纠纷", LIST, 0, NULL, NULL, "numbers of disputes"),
};
static const struct tsync_field meeting_f[] = {
	F("kind", "会议类型", ENUM, 1, meeting_kinds, NULL, "kind of meeting"),
	F("date", "日期", DATE, 1, NULL, NULL, "date held"),
	F("attendees", "参会人员", LIST, 1, NULL, NULL, "who attended"),
	F("minutes", "会议纪要", TEXT, 0, NULL, NULL, "minutes"),
	F("decisions", "议定事项", TEXT, 0, NULL, NULL, "decisions"),
	F("disputes", "关联纠纷", LIST, 0, NULL, NULL, "numbers of disputes"),
};
static const struct tsync_field grid_f[] = {
	F("reporter", "网格员", TEXT, 1, NULL, NULL, "the grid liaison"),
	F("seen", "社情民意", TEXT, 1, NULL, NULL, "what was seen or heard"),
	F("place", "地点", TEXT, 1, NULL, NULL, "where"),
	F("date", "日期", DATE, 1, NULL, NULL, "when"),
	F("status", "状态", ENUM, 1, grid_states, NULL,
	  "open, converted, closed"),
	F("dispute", "转立纠纷", REF, 0, NULL, "dispute",
	  "the dispute it became"),
};

#define K(name, table, label, tag, date, title, parent, bc, f) \
	{name, table, label, tag, date, title, parent, bc, f, NF(f)}

static const struct tsync_kind kinds[] = {
	K("office", "offices", "辖区单位", "辖", NULL, "name", NULL, 1,
	  office_f),
	K("staff", "staff", "人员名册", "员", NULL, "name", NULL, 1, staff_f),
	K("dispute", "disputes", "矛盾纠纷", "", "opened", "title", NULL, 0,
	  dispute_f),
	K("mediation", "mediations", "调解记录", "调", "date", "result",
	  "dispute", 0, mediation_f),
	K("consult", "consults", "法律咨询", "咨", "date", "topic", NULL, 0,
	  consult_f),
	K("petition", "petitions", "信访事项", "访", "received", "subject",
	  NULL, 0, petition_f),
	K("event", "events", "普法活动", "普", "date", "title", NULL, 0,
	  event_f),
	K("person", "specials", "特殊人群档案", "档", "since", "person", NULL,
	  0, special_f),
	K("visit", "visits", "走访记录", "走", "date", "notes", "file", 0,
	  visit_f),
	K("risk", "risks", "风险评估", "评", "date", "subject", NULL, 0,
	  risk_f),
	K("meeting", "meetings", "研判会议", "会", "date", "kind", NULL, 0,
	  meeting_f),
	K("grid", "grid_reports", "网格社情", "网", "date", "seen", NULL, 0,
	  grid_f),
};

/* ---- Rules beyond one field ------------------------------------------- */

static const struct domain_rule rules[] = {
	{"disputes", "status", RULE_INSERT,
	 "NEW.status IN ('registered','mediating')",
	 "a new dispute starts as registered or mediating "
	 "(新登记纠纷状态只能为已登记或调解中)"},
	{"disputes", "closed", RULE_ALWAYS,
	 "NEW.closed IS NULL OR NEW.closed >= NEW.opened",
	 "the closing date is before the opened date (结案日期早于登记日期)"},
	{"disputes", "closed", RULE_ALWAYS,
	 "NEW.status NOT IN ('resolved','failed','referred') OR "
	 "NEW.closed IS NOT NULL",
	 "a closed dispute needs its closing date (结案须填写结案日期)"},
	{"disputes", "outcome", RULE_ALWAYS,
	 "NEW.status NOT IN ('resolved','failed','referred') OR "
	 "trim(coalesce(NEW.outcome,'')) <> ''",
	 "closing a dispute needs its outcome (结案须填写调解结果)"},
	{"disputes", "referred_to", RULE_ALWAYS,
	 "NEW.status <> 'referred' OR NEW.referred_to IS NOT NULL",
	 "a referred dispute names where it went: court or arbitration "
	 "(移交须填写去向：法院或仲裁委员会)"},
	{"disputes", "status", RULE_STEP,
	 "NEW.status IS OLD.status OR NEW.status <> 'resolved' OR "
	 "OLD.status = 'mediating'",
	 "cannot resolve a dispute that was never mediated: start mediation "
	 "first (未经调解不能调解成功结案)"},
	{"disputes", "status", RULE_STEP,
	 "NEW.status IS OLD.status OR NEW.status <> 'failed' OR "
	 "OLD.status = 'mediating'",
	 "only a dispute under mediation can fail (只有调解中的纠纷才能调解失败)"},
	{"disputes", "status", RULE_STEP,
	 "NEW.status IS OLD.status OR NEW.status <> 'referred' OR "
	 "OLD.status = 'failed'",
	 "refer a dispute only after mediation failed "
	 "(调解失败后方可移交诉讼或仲裁)"},
	{"disputes", "status", RULE_STEP,
	 "NEW.status IS OLD.status OR NEW.status <> 'mediating' OR "
	 "OLD.status IN ('registered','failed')",
	 "a closed dispute cannot go back to mediation (已结案纠纷不能重新调解)"},
	{"disputes", "status", RULE_STEP,
	 "NEW.status IS OLD.status OR NEW.status <> 'registered'",
	 "a dispute cannot go back to registered (状态不能退回已登记)"},
	{"disputes", "status", RULE_ALWAYS,
	 "NEW.status <> 'resolved' OR EXISTS (SELECT 1 FROM mediations m "
	 "WHERE m.dispute = NEW.id)",
	 "a resolved dispute needs at least one mediation session "
	 "(调解成功须有调解记录)"},
	{"petitions", "routed_to", RULE_ALWAYS,
	 "NEW.status = 'received' OR NEW.routed_to IS NOT NULL",
	 "a routed petition names where it went (分流须填写去向)"},
	{"petitions", "closed", RULE_ALWAYS,
	 "NEW.status <> 'closed' OR NEW.closed IS NOT NULL",
	 "a closed petition needs its closing date (办结须填写办结日期)"},
	{"petitions", "closed", RULE_ALWAYS,
	 "NEW.closed IS NULL OR NEW.closed >= NEW.received",
	 "the closing date is before the received date (办结日期早于受理日期)"},
	{"specials", "until", RULE_ALWAYS,
	 "NEW.until IS NULL OR NEW.until >= NEW.since",
	 "the end of the period is before its start (终止日期早于起始日期)"},
	{"grid_reports", "dispute", RULE_ALWAYS,
	 "NEW.status <> 'converted' OR NEW.dispute IS NOT NULL",
	 "a converted report names its dispute (已转纠纷须关联纠纷)"},
};

const struct domain_rule *
domain_rules(size_t *count)
{
	*count = sizeof(rules) / sizeof(rules[0]);
	return rules;
}

const struct tsync_kind *
tsync_kinds(size_t *count)
{
	*count = sizeof(kinds) / sizeof(kinds[0]);
	return kinds;
}

const struct tsync_kind *
tsync_kind_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, name) == 0 ||
		    strcmp(kinds[i].table, name) == 0)
			return &kinds[i];
	return NULL;
}

const struct tsync_field *
tsync_kind_field(const struct tsync_kind *k, const char *name)
{
	int i;

	for (i = 0; i < k->nfield; i++)
		if (strcmp(k->fields[i].name, name) == 0)
			return &k->fields[i];
	return NULL;
}

const char *
tsync_choice_label(const struct tsync_field *f, const char *code)
{
	const struct tsync_choice *c;

	for (c = f->choices; c != NULL && c->code != NULL; c++)
		if (code != NULL && strcmp(c->code, code) == 0)
			return c->label;
	return NULL;
}

const char *
tsync_choice_code(const struct tsync_field *f, const char *s)
{
	const struct tsync_choice *c;

	for (c = f->choices; c != NULL && c->code != NULL; c++)
		if (s != NULL &&
		    (strcmp(c->code, s) == 0 || strcmp(c->label, s) == 0))
			return c->code;
	return NULL;
}

void
domain_allowed(const struct tsync_field *f, char *out, size_t len)
{
	const struct tsync_choice *c;
	size_t o = 0;

	o += (size_t)snprintf(out, len, "not an allowed value (取值无效); allowed:");
	for (c = f->choices; c != NULL && c->code != NULL && o < len; c++)
		o += (size_t)snprintf(out + o, len - o, "%s %s %s",
				      c == f->choices ? "" : ",", c->code,
				      c->label);
}

/* ---- DDL and triggers ---------------------------------------------------- */

struct sqlbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void
sb_add(struct sqlbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sb_add(struct sqlbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->err)
		return;
	va_start(ap, fmt);
	k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= b->cap - b->len)
		b->err = 1;
	else
		b->len += (size_t)k;
}

static void field_ok(struct sqlbuf *b, const struct tsync_field *f);
static const char *field_fault(const struct tsync_field *f, char *buf,
			       size_t len);

int
domain_field_rule(const struct tsync_field *f, char *ok, size_t oklen,
		  char *msg, size_t msglen)
{
	struct sqlbuf b = {ok, 0, oklen, 0};
	const char *m;

	if (f->type == TSYNC_FT_TEXT)
		return 0;
	field_ok(&b, f);
	m = field_fault(f, msg, msglen);
	if (m != msg)
		snprintf(msg, msglen, "%s", m);
	return b.err ? 0 : 1;
}

/* The SQL that accepts a field's value, over NEW. */
static void
field_ok(struct sqlbuf *b, const struct tsync_field *f)
{
	const struct tsync_choice *c;
	const struct tsync_kind *r;

	switch (f->type) {
	case TSYNC_FT_DATE:
		sb_add(b, "NEW.\"%s\" IS NULL OR (NEW.\"%s\" GLOB '[12][0-9][0-9]"
			  "[0-9]-[01][0-9]-[0-3][0-9]' AND date(NEW.\"%s\", '+0 days') IS "
			  "NEW.\"%s\")", f->name, f->name, f->name, f->name);
		break;
	case TSYNC_FT_INT:
		sb_add(b, "NEW.\"%s\" IS NULL OR (typeof(NEW.\"%s\") = 'integer'"
			  " AND NEW.\"%s\" >= 0)", f->name, f->name, f->name);
		break;
	case TSYNC_FT_ENUM:
		sb_add(b, "NEW.\"%s\" IS NULL OR NEW.\"%s\" IN (", f->name,
		       f->name);
		for (c = f->choices; c->code != NULL; c++)
			sb_add(b, "%s'%s'", c == f->choices ? "" : ",", c->code);
		sb_add(b, ")");
		break;
	case TSYNC_FT_LIST:
		sb_add(b, "NEW.\"%s\" IS NULL OR (json_valid(NEW.\"%s\") AND "
			  "json_type(NEW.\"%s\") = 'array')", f->name, f->name,
		       f->name);
		break;
	case TSYNC_FT_REF:
		r = tsync_kind_find(f->ref);
		sb_add(b, "NEW.\"%s\" IS NULL OR EXISTS (SELECT 1 FROM \"%s\" x"
			  " WHERE x.id = NEW.\"%s\")", f->name,
		       r ? r->table : "?", f->name);
		break;
	case TSYNC_FT_SCOPE:
		sb_add(b, "NEW.\"%s\" IS NULL OR (NEW.\"%s\" GLOB '[a-z0-9_-]*'"
			  " AND NOT NEW.\"%s\" GLOB '*[^a-z0-9_/-]*' AND NOT "
			  "NEW.\"%s\" GLOB '*/' AND NOT NEW.\"%s\" GLOB '*//*')",
		       f->name, f->name, f->name, f->name, f->name);
		break;
	default:
		sb_add(b, "1");
	}
}

static const char *
field_fault(const struct tsync_field *f, char *buf, size_t len)
{
	const struct tsync_kind *r;

	switch (f->type) {
	case TSYNC_FT_DATE:
		return "not a date: write YYYY-MM-DD (日期格式应为 2026-03-05)";
	case TSYNC_FT_INT:
		return "not a whole number of 0 or more (应为非负整数)";
	case TSYNC_FT_ENUM:
		domain_allowed(f, buf, len);
		return buf;
	case TSYNC_FT_LIST:
		return "not a list: give a JSON array of texts (应为列表)";
	case TSYNC_FT_REF:
		r = tsync_kind_find(f->ref);
		snprintf(buf, len, "no such %s record on this node (%s不存在)",
			 f->ref, r ? r->label : "记录");
		return buf;
	case TSYNC_FT_SCOPE:
		return "not a scope path such as gangzha/qinzao (辖区路径无效)";
	}
	return "invalid";
}

/* SELECT RAISE(ABORT, 'field (label): msg') WHERE NOT (ok); */
static void
raise_unless(struct sqlbuf *b, const struct tsync_kind *k, const char *field,
	     const char *ok_sql, const char *msg)
{
	const struct tsync_field *f = tsync_kind_field(k, field);
	const char *p;

	sb_add(b, "SELECT RAISE(ABORT, '%s (%s): ", field,
	       f ? f->label : "记录");
	for (p = msg; *p != '\0'; p++)
		sb_add(b, *p == '\'' ? "''" : "%c", *p);
	sb_add(b, "') WHERE NOT (%s);\n", ok_sql);
}

static void
field_rules(struct sqlbuf *b, const struct tsync_kind *k)
{
	char ok[2048], msg[1024];
	struct sqlbuf fb;
	int i;

	for (i = 0; i < k->nfield; i++) {
		const struct tsync_field *f = &k->fields[i];

		if (f->required) {
			snprintf(ok, sizeof(ok),
				 "NEW.\"%s\" IS NOT NULL AND "
				 "trim(NEW.\"%s\") <> ''",
				 f->name, f->name);
			raise_unless(b, k, f->name, ok,
				     "required (必填项不能为空)");
		}
		fb = (struct sqlbuf){ok, 0, sizeof(ok), 0};
		field_ok(&fb, f);
		if (!fb.err && f->type != TSYNC_FT_TEXT)
			raise_unless(b, k, f->name, ok,
				     field_fault(f, msg, sizeof(msg)));
	}
}

static void
table_rules(struct sqlbuf *b, const struct tsync_kind *k, int when)
{
	size_t i;

	int pass;

	/* A step of the workflow first: it says what to do next. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
			if (strcmp(rules[i].table, k->table) == 0 &&
			    rules[i].when == (pass ? RULE_ALWAYS : when))
				raise_unless(b, k, rules[i].field, rules[i].ok,
					     rules[i].msg);
}

enum { OBJ_INS, OBJ_UPD, OBJ_IX_SCOPE, OBJ_IX_DATE, OBJ_IX_PARENT, OBJ__N };

/*
 * Writes object `which` of kind k (a trigger or an index) to b, as
 * sqlite_schema stores it, or with `ine` as it is created (IF NOT EXISTS on
 * an index); its name goes to name.  Returns 0 if the kind has no such
 * object.
 */
static int
kind_object(struct sqlbuf *b, const struct tsync_kind *k, int which, int ine,
	    char *name, size_t namelen)
{
	static const char *const ix[] = {"scope", "date", "parent"};
	const char *on = which == OBJ_IX_DATE ? k->date : k->parent;

	if (which >= OBJ_IX_DATE && on == NULL)
		return 0;
	if (which <= OBJ_UPD)
		snprintf(name, namelen, "ts_chk_%s_%s", k->table,
			 which == OBJ_INS ? "ins" : "upd");
	else
		snprintf(name, namelen, "ts_ix_%s_%s", k->table,
			 ix[which - OBJ_IX_SCOPE]);
	if (which == OBJ_INS) {
		sb_add(b, "CREATE TRIGGER \"%s\" BEFORE INSERT ON \"%s\""
			  " WHEN ts_check() BEGIN\n", name, k->table);
		raise_unless(b, k, "id",
			     "substr(NEW.id, 1, 17) = ts_node_id() || '-'",
			     "records get their id from the node: use "
			     "ts_newid() (编号由节点生成)");
		raise_unless(b, k, "recorded_by",
			     "trim(coalesce(NEW.recorded_by, '')) <> ''",
			     "say who records it (须填写登记人)");
		field_rules(b, k);
		table_rules(b, k, RULE_INSERT);
		sb_add(b, "END");
	} else if (which == OBJ_UPD) {
		sb_add(b, "CREATE TRIGGER \"%s\" BEFORE UPDATE ON \"%s\""
			  " WHEN ts_check() BEGIN\n", name, k->table);
		field_rules(b, k);
		table_rules(b, k, RULE_STEP);
		sb_add(b, "END");
	} else {
		sb_add(b, "CREATE INDEX %s\"%s\" ON \"%s\"(%s%s%s)",
		       ine ? "IF NOT EXISTS " : "", name, k->table,
		       which == OBJ_IX_SCOPE ? "" : "\"",
		       which == OBJ_IX_SCOPE ? "scope, no" : on,
		       which == OBJ_IX_SCOPE ? "" : "\"");
	}
	return 1;
}

static int
declare_triggers(struct tsync_node *n, const struct tsync_kind *k)
{
	struct sqlbuf b = {NULL, 0, 65536, 0};
	char name[128];
	int rc, w;

	if ((b.p = malloc(b.cap)) == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	for (w = 0; w < OBJ__N; w++) {
		if (w <= OBJ_UPD)
			sb_add(&b, "DROP TRIGGER IF EXISTS \"ts_chk_%s_%s\";\n",
			       k->table, w == OBJ_INS ? "ins" : "upd");
		if (kind_object(&b, k, w, 1, name, sizeof(name)))
			sb_add(&b, ";\n");
	}
	rc = b.err ? node_err(n, TSYNC_EINVAL, "rules of %s too long",
			      k->table)
		   : ts_store_exec(n, b.p);
	free(b.p);
	return rc;
}

static int
declare_kind(struct tsync_node *n, const struct tsync_kind *k)
{
	static const char *const common[] = {DOMAIN_COMMON};
	const char *cols[TBL_MAX_COLS], *types[TBL_MAX_COLS];
	char typed[TBL_MAX_COLS][96];
	int i, nc = 0, rc;

	for (i = 0; i < DOMAIN_NCOMMON; i++) {
		cols[nc] = common[i];
		types[nc++] = "TEXT";
	}
	/* A field added by a later schema goes at the end of its kind, with
	 * its default: ts_store_declare() adds it to an older replica. */
	for (i = 0; i < k->nfield && nc < TBL_MAX_COLS - 2; i++) {
		const struct tsync_field *f = &k->fields[i];

		cols[nc] = f->name;
		snprintf(typed[nc], sizeof(typed[nc]), "%s%s%s",
			 f->type == TSYNC_FT_INT ? "INTEGER" : "TEXT",
			 f->dflt != NULL ? " DEFAULT " : "",
			 f->dflt != NULL ? f->dflt : "");
		types[nc] = typed[nc];
		nc++;
	}
	if ((rc = ts_store_declare(n, k->table, cols, types, nc)) != 0)
		return rc;
	return declare_triggers(n, k);
}

/* The engine's own test table: free-form, no rules (tests, benches). */
static const char *const cases_cols[] = {
	"category", "title", "parties", "status", "opened_at", "notes",
};
static const char *const cases_types[] = {
	"TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
};

/* Who changed which fields of a record, when: one row per change. */
static const char *const edits_cols[] = {
	"no", "recorded_by", "recorded_at", "kind", "record", "fields",
};
static const char *const edits_types[] = {
	"TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
};

/*
 * Schema 3: receipts and equivocation evidence (node/receipt.c,
 * docs/protocol.md 8.3).  Each row is written by the node that made it,
 * in its own scope, so it is signed by that node's stream.
 */
static const char *const receipts_cols[] = {
	"witness", "origin", "stream", "seq", "head", "at",
};
static const char *const receipts_types[] = {
	"TEXT", "TEXT", "TEXT", "INTEGER", "TEXT", "INTEGER",
};
static const char *const evidence_cols[] = {
	"origin", "stream", "seq", "held", "other", "how", "seen_by",
	"peer", "seen_at", "body_a", "sig_a", "body_b", "sig_b",
};
static const char *const evidence_types[] = {
	"TEXT", "TEXT", "INTEGER", "TEXT", "TEXT", "TEXT", "TEXT",
	"TEXT", "INTEGER", "BLOB", "BLOB", "BLOB", "BLOB",
};

int
domain_declare(struct tsync_node *n)
{
	size_t i;
	int rc;

	rc = ts_store_declare(n, "cases", cases_cols, cases_types, 6);
	if (rc == 0)
		rc = ts_store_declare(n, "edits", edits_cols, edits_types, 6);
	if (rc == 0)
		rc = ts_store_exec(n, "CREATE INDEX IF NOT EXISTS ts_ix_edits_record"
				   " ON edits(record)");
	for (i = 0; rc == 0 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		rc = declare_kind(n, &kinds[i]);
	if (rc == 0)
		rc = ts_store_declare(n, "receipts", receipts_cols,
				   receipts_types, 6);
	if (rc == 0)
		rc = ts_store_declare(n, "evidence", evidence_cols,
				   evidence_types, 13);
	return rc;
}

int
domain_objects(int (*cb)(void *arg, const char *name, const char *sql),
	       void *arg)
{
	struct sqlbuf b = {NULL, 0, 65536, 0};
	char name[128];
	size_t i;
	int w, rc;

	if ((b.p = malloc(b.cap)) == NULL)
		return TSYNC_ENOMEM;
	rc = cb(arg, "ts_ix_edits_record",
		"CREATE INDEX ts_ix_edits_record ON edits(record)");
	for (i = 0; rc == 0 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		for (w = 0; rc == 0 && w < OBJ__N; w++) {
			b.len = 0;
			b.err = 0;
			if (kind_object(&b, &kinds[i], w, 0, name, sizeof(name)))
				rc = b.err ? TSYNC_EINVAL : cb(arg, name, b.p);
		}
	free(b.p);
	return rc;
}

/* ---- SQL functions ----------------------------------------------------- */

static void
fn_check(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct tsync_node *n = sqlite3_user_data(cx);

	(void)argc;
	(void)argv;
	sqlite3_result_int(cx, n->cap.active && !n->cap.applying &&
				       !n->cap.lax);
}

static void
fn_node_id(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct tsync_node *n = sqlite3_user_data(cx);
	char hex[17];

	(void)argc;
	(void)argv;
	id_format(n->id, hex);
	sqlite3_result_text(cx, hex, 16, SQLITE_TRANSIENT);
}

/* "<node id>-<hlc>": unique by construction across nodes and in time. */
void
domain_newid(struct tsync_node *n, char *out, size_t len)
{
	uint64_t h = hlc_now(&n->hlc, ts_now_ms(&n->ops));
	char hex[17];

	id_format(n->id, hex);
	snprintf(out, len, "%s-%016llx", hex, (unsigned long long)h);
}

static void
fn_newid(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	char out[40];

	(void)argc;
	(void)argv;
	domain_newid(sqlite3_user_data(cx), out, sizeof(out));
	sqlite3_result_text(cx, out, -1, SQLITE_TRANSIENT);
}

int
domain_install(struct tsync_node *n)
{
	int rc;

	rc = sqlite3_create_function(n->db, "ts_check", 0, SQLITE_UTF8, n,
				     fn_check, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(n->db, "ts_node_id", 0,
					     SQLITE_UTF8 | SQLITE_DETERMINISTIC,
					     n, fn_node_id, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(n->db, "ts_newid", 0, SQLITE_UTF8,
					     n, fn_newid, NULL, NULL);
	return rc == SQLITE_OK ? 0 : node_sqlerr(n, rc, "register functions");
}
