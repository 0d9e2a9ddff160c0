/*
 * render.c - a report as text, JSON, or one self-contained HTML page.
 *
 * The page carries its own CSS and draws its charts as inline SVG: no
 * script, no font, no address outside the file, so a district office can
 * print it or put it on a screen with no network.  Everything shown comes
 * from the report's JSON (tsync_report), labels included.
 */
#include <stdio.h>
#include <string.h>

#include "domain.h"

static json_int_t
num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
rate(char *out, size_t len, const json_t *fig)
{
	const json_t *v = json_object_get(fig, "success_rate");

	if (json_is_real(v))
		snprintf(out, len, "%.1f%%", json_real_value(v) * 100.0);
	else
		snprintf(out, len, "—");
}

/* "label n, label n" in the order of the labels. */
static void
text_by(FILE *f, const json_t *r, const json_t *fig, const char *by)
{
	const json_t *counts = json_object_get(fig, by);
	const char *code;
	json_t *l;
	int first = 1;

	json_object_foreach(json_object_get(json_object_get(r, "labels"), by),
			    code, l)
	{
		fprintf(f, "%s%s %lld", first ? "" : "，", json_string_value(l),
			(long long)num(counts, code));
		first = 0;
	}
	fprintf(f, "\n");
}

static const struct col {
	const char *key, *label;
} cols[] = {
	{"disputes", "纠纷"},     {"mediated", "调结"},  {"resolved", "成功"},
	{"sessions", "调解次数"}, {"consults", "咨询"},  {"petitions", "信访"},
	{"events", "普法"},       {"audience", "受众"},  {"specials", "在册对象"},
	{"visits", "走访"},       {"risks", "评估"},     {"meetings", "会议"},
	{"grid_reports", "网格社情"},
};
#define NCOL (sizeof(cols) / sizeof(cols[0]))

static void
render_text(const json_t *r, FILE *f)
{
	const json_t *t = json_object_get(r, "totals"), *c;
	char pct[16];
	size_t i, j;

	rate(pct, sizeof(pct), t);
	fprintf(f, "%s (%s) 工作报告  期间: %s 至 %s\n",
		json_string_value(json_object_get(r, "name")),
		json_string_value(json_object_get(r, "scope")),
		json_string_value(json_object_get(r, "from")) ?: "开始",
		json_string_value(json_object_get(r, "to")) ?: "今");
	fprintf(f, "矛盾纠纷 登记 %lld 件；调解结案 %lld 件，成功 %lld 件，"
		   "成功率 %s\n",
		(long long)num(t, "disputes"), (long long)num(t, "mediated"),
		(long long)num(t, "resolved"), pct);
	fprintf(f, "  按类别: ");
	text_by(f, r, t, "by_category");
	fprintf(f, "  按来源: ");
	text_by(f, r, t, "by_source");
	fprintf(f, "  按状态: ");
	text_by(f, r, t, "by_status");
	fprintf(f, "调解记录 %lld 次\n", (long long)num(t, "sessions"));
	fprintf(f, "法律咨询 %lld 次；后续: ", (long long)num(t, "consults"));
	text_by(f, r, t, "consults_became");
	fprintf(f, "信访事项 %lld 件；律师初判: ",
		(long long)num(t, "petitions"));
	text_by(f, r, t, "petitions_by_triage");
	fprintf(f, "  分流去向: ");
	text_by(f, r, t, "petitions_routed");
	fprintf(f, "普法活动 %lld 场，受众 %lld 人次；按类型: ",
		(long long)num(t, "events"), (long long)num(t, "audience"));
	text_by(f, r, t, "events_by_kind");
	fprintf(f, "特殊人群 在册 %lld 人，走访 %lld 次；按类别: ",
		(long long)num(t, "specials"), (long long)num(t, "visits"));
	text_by(f, r, t, "specials_by_kind");
	fprintf(f, "风险评估 %lld 次；按等级: ", (long long)num(t, "risks"));
	text_by(f, r, t, "risks_by_level");
	fprintf(f, "研判会议 %lld 次；按类型: ", (long long)num(t, "meetings"));
	text_by(f, r, t, "meetings_by_kind");
	fprintf(f, "网格社情 %lld 条\n", (long long)num(t, "grid_reports"));
	if (json_array_size(json_object_get(r, "children")) == 0)
		return;
	fprintf(f, "\n下辖单位\t");
	for (j = 0; j < NCOL; j++)
		fprintf(f, "%s\t", cols[j].label);
	fprintf(f, "成功率\n");
	json_array_foreach(json_object_get(r, "children"), i, c)
	{
		fprintf(f, "%s\t", json_string_value(json_object_get(c, "name")));
		for (j = 0; j < NCOL; j++)
			fprintf(f, "%lld\t", (long long)num(c, cols[j].key));
		rate(pct, sizeof(pct), c);
		fprintf(f, "%s\n", pct);
	}
}

/* ---- HTML ------------------------------------------------------------------ */

static void
esc(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A horizontal bar chart: one bar per (label, value). */
static void
svg_bars(FILE *f, const char *id, const char *title, const char **labels,
	 const json_int_t *vals, size_t n)
{
	json_int_t max = 1;
	size_t i;
	int h = 28 + (int)n * 26;

	for (i = 0; i < n; i++)
		if (vals[i] > max)
			max = vals[i];
	fprintf(f, "<figure class=\"chart\"><figcaption>");
	esc(f, title);
	fprintf(f, "</figcaption><svg id=\"%s\" role=\"img\" width=\"560\" "
		   "height=\"%d\" viewBox=\"0 0 560 %d\" "
		   "xmlns=\"http://www.w3.org/2000/svg\">",
		id, h, h);
	for (i = 0; i < n; i++) {
		int y = 10 + (int)i * 26;
		int w = (int)(330.0 * (double)vals[i] / (double)max);

		fprintf(f, "<text x=\"150\" y=\"%d\" text-anchor=\"end\" "
			   "font-size=\"13\">",
			y + 15);
		esc(f, labels[i]);
		fprintf(f, "</text><rect class=\"bar\" x=\"158\" y=\"%d\" "
			   "width=\"%d\" height=\"18\" fill=\"#2b6cb0\" "
			   "data-value=\"%lld\"/><text x=\"%d\" y=\"%d\" "
			   "font-size=\"13\">%lld</text>",
			y, w > 0 ? w : 1, (long long)vals[i], 164 + w, y + 15,
			(long long)vals[i]);
	}
	fprintf(f, "</svg></figure>\n");
}

static void
chart_by(FILE *f, const json_t *r, const char *by, const char *id,
	 const char *title)
{
	const json_t *counts = json_object_get(json_object_get(r, "totals"),
					       by);
	const char *labels[32], *code;
	json_int_t vals[32];
	json_t *l;
	size_t n = 0;

	json_object_foreach(json_object_get(json_object_get(r, "labels"), by),
			    code, l)
	{
		if (n == 32)
			break;
		labels[n] = json_string_value(l);
		vals[n++] = num(counts, code);
	}
	svg_bars(f, id, title, labels, vals, n);
}

static void
chart_children(FILE *f, const json_t *r, const char *key, const char *id,
	       const char *title)
{
	const json_t *kids = json_object_get(r, "children"), *c;
	const char *labels[256];
	json_int_t vals[256];
	size_t n = 0, i;

	json_array_foreach(kids, i, c)
	{
		if (n == 256)
			break;
		labels[n] = json_string_value(json_object_get(c, "name"));
		vals[n++] = num(c, key);
	}
	if (n > 0)
		svg_bars(f, id, title, labels, vals, n);
}

static void
html_kv(FILE *f, const char *id, const char *label, json_int_t v)
{
	fprintf(f, "<div class=\"kv\"><span class=\"v\" id=\"%s\">%lld</span>"
		   "<span class=\"k\">%s</span></div>",
		id, (long long)v, label);
}

static void
html_table(FILE *f, const json_t *r)
{
	const json_t *c;
	char pct[16];
	size_t i, j;

	fprintf(f, "<table id=\"children\"><thead><tr><th>下辖单位</th>");
	for (j = 0; j < NCOL; j++)
		fprintf(f, "<th>%s</th>", cols[j].label);
	fprintf(f, "<th>成功率</th></tr></thead><tbody>\n");
	json_array_foreach(json_object_get(r, "children"), i, c)
	{
		fprintf(f, "<tr data-scope=\"");
		esc(f, json_string_value(json_object_get(c, "scope")));
		fprintf(f, "\"><td>");
		esc(f, json_string_value(json_object_get(c, "name")));
		fprintf(f, "</td>");
		for (j = 0; j < NCOL; j++)
			fprintf(f, "<td data-key=\"%s\">%lld</td>", cols[j].key,
				(long long)num(c, cols[j].key));
		rate(pct, sizeof(pct), c);
		fprintf(f, "<td>%s</td></tr>\n", pct);
	}
	fprintf(f, "</tbody></table>\n");
}

static const char css[] =
	"body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei',"
	"'Microsoft YaHei',sans-serif;margin:24px;color:#1a202c}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;"
	"border-bottom:2px solid #2b6cb0}.meta{color:#4a5568}"
	".kvs{display:flex;flex-wrap:wrap;gap:10px}.kv{border:1px solid #cbd5e0;"
	"border-radius:6px;padding:8px 14px;min-width:110px}.kv .v{display:"
	"block;font-size:24px;font-weight:bold}.kv .k{color:#4a5568}"
	"table{border-collapse:collapse;font-size:13px}th,td{border:1px solid "
	"#cbd5e0;padding:4px 8px;text-align:right}th:first-child,td:first-child"
	"{text-align:left}figure{margin:8px 0}figcaption{font-weight:bold}"
	".charts{display:flex;flex-wrap:wrap;gap:16px}"
	"@media print{body{margin:0}.chart{break-inside:avoid}}";

static void
render_html(const json_t *r, FILE *f)
{
	const json_t *t = json_object_get(r, "totals");
	char pct[16];

	rate(pct, sizeof(pct), t);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta "
		   "charset=\"utf-8\"><title>");
	esc(f, json_string_value(json_object_get(r, "name")));
	fprintf(f, " 三所共建工作报告</title><style>%s</style></head><body>\n",
		css);
	fprintf(f, "<h1>");
	esc(f, json_string_value(json_object_get(r, "name")));
	fprintf(f, " 三所共建工作报告</h1><p class=\"meta\">辖区 <code>");
	esc(f, json_string_value(json_object_get(r, "scope")));
	fprintf(f, "</code> · 期间 ");
	esc(f, json_string_value(json_object_get(r, "from")) ?: "开始");
	fprintf(f, " 至 ");
	esc(f, json_string_value(json_object_get(r, "to")) ?: "今");
	fprintf(f, " · 生成于 ");
	esc(f, json_string_value(json_object_get(r, "generated_at")));
	fprintf(f, "</p>\n<h2>总览</h2><div class=\"kvs\">");
	html_kv(f, "t-disputes", "矛盾纠纷登记", num(t, "disputes"));
	html_kv(f, "t-mediated", "调解结案", num(t, "mediated"));
	html_kv(f, "t-resolved", "调解成功", num(t, "resolved"));
	fprintf(f, "<div class=\"kv\"><span class=\"v\" id=\"t-rate\">%s"
		   "</span><span class=\"k\">调解成功率</span></div>",
		pct);
	html_kv(f, "t-consults", "法律咨询", num(t, "consults"));
	html_kv(f, "t-petitions", "信访事项", num(t, "petitions"));
	html_kv(f, "t-events", "普法活动", num(t, "events"));
	html_kv(f, "t-audience", "受众人次", num(t, "audience"));
	html_kv(f, "t-specials", "特殊人群在册", num(t, "specials"));
	html_kv(f, "t-visits", "走访次数", num(t, "visits"));
	html_kv(f, "t-risks", "风险评估", num(t, "risks"));
	html_kv(f, "t-meetings", "研判会议", num(t, "meetings"));
	fprintf(f, "</div>\n<h2>矛盾纠纷</h2><div class=\"charts\">");
	chart_by(f, r, "by_category", "c-category", "按类别");
	chart_by(f, r, "by_source", "c-source", "按来源");
	chart_by(f, r, "by_status", "c-status", "按状态");
	fprintf(f, "</div>\n<h2>信访与普法</h2><div class=\"charts\">");
	chart_by(f, r, "petitions_routed", "c-routed", "信访分流去向");
	chart_by(f, r, "events_by_kind", "c-events", "普法活动类型");
	fprintf(f, "</div>\n<h2>特殊人群与风险</h2><div class=\"charts\">");
	chart_by(f, r, "specials_by_kind", "c-specials", "特殊人群类别");
	chart_by(f, r, "risks_by_level", "c-risks", "风险评估等级");
	chart_by(f, r, "meetings_by_kind", "c-meetings", "研判会议类型");
	fprintf(f, "</div>\n");
	if (json_array_size(json_object_get(r, "children")) > 0) {
		fprintf(f, "<h2>下辖单位</h2><div class=\"charts\">");
		chart_children(f, r, "disputes", "c-kids", "各单位纠纷登记数");
		chart_children(f, r, "audience", "c-kids-audience",
			       "各单位普法受众人次");
		fprintf(f, "</div>\n");
		html_table(f, r);
	}
	fprintf(f, "</body></html>\n");
}

int
tsync_report_render(const json_t *report, int fmt, FILE *f)
{
	switch (fmt) {
	case TSYNC_FMT_JSON:
		if (json_dumpf(report, f, JSON_INDENT(2)) != 0)
			return TSYNC_EIO;
		fputc('\n', f);
		break;
	case TSYNC_FMT_HTML:
		render_html(report, f);
		break;
	default:
		render_text(report, f);
	}
	return ferror(f) ? TSYNC_EIO : 0;
}
