/*
 * gen.c - a realistic district, for the demo, the tests and the benches.
 *
 * Rates are the district's own (DOMAIN.md): Qinzao street, fifteen
 * villages, mediated 423 disputes and held 45 legal lectures for nearly
 * 10,000 people in three years.  So a village registers about 9.4
 * disputes a year, nearly all mediated successfully; a street holds
 * about 15 events a year and weekly meetings; villages hold monthly
 * ones, answer consultations, triage petitions and visit the people in
 * their special-population files monthly.  `scale` multiplies every
 * rate.  The output depends only on the options and the seed.
 *
 * Records are written through the node like any other local write, so
 * the validation triggers judge every one of them; one commit per village
 * and year keeps each txn bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain.h"
#include "node_int.h"

struct gen {
	struct tsync_node *n;
	const struct tsync_gen_opts *o;
	struct tsync_gen_stats *st;
	uint64_t rng;
	char by[32];
	char bcast[80]; /* the district's broadcast scope */
	unsigned seq[12]; /* per office and year, by kind tag */
};

static uint32_t
rnd(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return (uint32_t)(g->rng >> 11);
}

static unsigned
below(struct gen *g, unsigned n)
{
	return n ? rnd(g) % n : 0;
}

/* How many in a year for a yearly rate: rate * scale, +-30%. */
static unsigned
howmany(struct gen *g, double rate)
{
	double x = rate * g->o->scale * (0.7 + 0.6 * (below(g, 1000) / 1000.0));

	return (unsigned)(x + (below(g, 1000) / 1000.0));
}

static const char *
pick(struct gen *g, const char *const *a, size_t n)
{
	return a[below(g, (unsigned)n)];
}
#define PICK(g, a) pick(g, a, sizeof(a) / sizeof(a[0]))

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨",
				       "黄", "赵", "吴", "周", "徐", "孙",
				       "朱", "顾", "陆", "施", "季", "曹"};
static const char *const given[] = {"芳", "强", "军", "敏", "静", "磊",
				    "娟", "勇", "伟", "丽", "建国", "秀英",
				    "海燕", "志刚", "春梅", "晓东"};

static void
person(struct gen *g, char *out, size_t len)
{
	snprintf(out, len, "%s%s", PICK(g, surnames), PICK(g, given));
}

/* A date in `year`; month in 1..months. */
static void
date_in(struct gen *g, unsigned year, char *out, size_t len)
{
	snprintf(out, len, "%04u-%02u-%02u", year, 1 + below(g, 12),
		 1 + below(g, 28));
}

static void
date_after(const char *d, unsigned days, char *out, size_t len)
{
	struct tm tm = {0};
	time_t t;

	sscanf(d, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm) + (time_t)days * 86400;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d", &tm);
}

/* Runs one statement (printf-style with %Q); counts a record. */
static int
sql(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	char *q;
	int rc;

	va_start(ap, fmt);
	q = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (q == NULL)
		return node_err(g->n, TSYNC_ENOMEM, "out of memory");
	rc = sqlite3_exec(g->n->db, q, NULL, NULL, NULL);
	sqlite3_free(q);
	if (rc != SQLITE_OK)
		return node_err(g->n, TSYNC_EINVAL, "generate: %s",
				sqlite3_errmsg(g->n->db));
	if (strncmp(fmt, "INSERT", 6) == 0)
		g->st->records++;
	return g->n->cap.err ? node_err(g->n, g->n->cap.err, "%s",
					g->n->cap.errmsg)
			     : 0;
}

/* "费桥2026-001": counters restart for each office and year. */
static void
number(struct gen *g, const char *shortname, const char *tag, unsigned year,
       char *out, size_t len)
{
	static const char *const tags[] = {"", "调", "咨", "访", "普", "档",
					   "走", "评", "会", "网", "辖", "员"};
	size_t i;

	for (i = 0; i < 11 && strcmp(tags[i], tag) != 0; i++)
		;
	snprintf(out, len, "%s%s%u-%03u", shortname, tag, year, ++g->seq[i]);
}

/* ---- The places ---------------------------------------------------------- */

static const char *const street_py[] = {"qinzao", "tangzha", "tianshenggang",
					"chenqiao", "yonghe", "xingfu"};
static const char *const street_zh[] = {"秦灶", "唐闸", "天生港", "陈桥",
					"永和", "幸福"};
static const char *const village_py[] = {
	"feiqiao", "xinhe", "donggang", "huayuan", "beizha", "wuxing",
	"hongxing", "changqiao", "yimin", "guangming", "xingwang", "sanyuan",
	"fumin", "qiaobei", "heping", "xinmin", "dongfang", "shuangyang",
	"gaoqiao", "nanhu"};
static const char *const village_zh[] = {
	"费桥", "新河", "东港", "花园", "北闸", "五星", "红星", "长桥",
	"益民", "光明", "兴旺", "三元", "富民", "桥北", "和平", "新民",
	"东方", "双阳", "高桥", "南湖"};
#define NSTREET_NAMES (sizeof(street_py) / sizeof(street_py[0]))
#define NVILLAGE_NAMES (sizeof(village_py) / sizeof(village_py[0]))

struct place {
	char path[200], name[64], shortname[48];
};

static void
street_of(struct gen *g, unsigned s, struct place *p)
{
	unsigned i = s % NSTREET_NAMES;

	snprintf(p->path, sizeof(p->path), "%.60s/%s%.0u", g->n->district,
		 street_py[i], s / NSTREET_NAMES ? s / (unsigned)NSTREET_NAMES
						 : 0);
	snprintf(p->shortname, sizeof(p->shortname), "%s%.0u", street_zh[i],
		 s / (unsigned)NSTREET_NAMES);
	snprintf(p->name, sizeof(p->name), "%s街道", p->shortname);
}

static void
village_of(const struct place *st, unsigned s, unsigned v, struct place *p)
{
	unsigned i = (s * 15 + v) % NVILLAGE_NAMES;
	unsigned round = (s * 15 + v) / (unsigned)NVILLAGE_NAMES;

	snprintf(p->path, sizeof(p->path), "%.120s/%s%.0u", st->path, village_py[i],
		 round);
	snprintf(p->shortname, sizeof(p->shortname), "%s%.0u", village_zh[i],
		 round);
	snprintf(p->name, sizeof(p->name), "%s村", p->shortname);
}

static int
office(struct gen *g, const struct place *p, const char *tier,
       const char *street)
{
	char id[48], no[96], j[96], po[96];

	domain_newid(g->n, id, sizeof(id));
	number(g, "港闸", "辖", g->o->end_year, no, sizeof(no));
	snprintf(j, sizeof(j), "%s司法所", street);
	snprintf(po, sizeof(po), "%s派出所", street);
	return sql(g,
		   "INSERT INTO offices(id, scope, no, recorded_by, recorded_at,"
		   " path, name, short, tier, judicial, police, lawfirm) "
		   "VALUES(%Q, %Q, %Q, %Q, '2024-01-01T00:00:00Z', %Q, %Q, %Q, "
		   "%Q, %Q, %Q, '江苏三所联合律师事务所')",
		   id, g->bcast, no, g->by, p->path, p->name, p->shortname, tier, j,
		   po);
}

static int
roster(struct gen *g, const struct place *p)
{
	static const char *const units[] = {"judicial", "police", "lawfirm"};
	static const char *const titles[] = {"司法助理员", "社区民警",
					     "值班律师"};
	char id[48], no[96], name[32];
	int i, rc = 0;

	for (i = 0; rc == 0 && i < 3; i++) {
		domain_newid(g->n, id, sizeof(id));
		number(g, "港闸", "员", g->o->end_year, no, sizeof(no));
		person(g, name, sizeof(name));
		rc = sql(g,
			 "INSERT INTO staff(id, scope, no, recorded_by, "
			 "recorded_at, name, unit, office, title, phone) "
			 "VALUES(%Q, %Q, %Q, %Q, '2024-01-01T00:00:00Z', %Q, %Q,"
			 " %Q, %Q, '0513-8%07u')",
			 id, g->bcast, no, g->by, name, units[i], p->path, titles[i],
			 below(g, 10000000));
	}
	return rc;
}

/* ---- One office's year ----------------------------------------------------- */

static const char *const cats[] = {"land", "family", "family", "marriage",
				   "neighbour", "neighbour", "labour",
				   "traffic", "property", "other"};
static const char *const srcs[] = {"walkin", "walkin", "grid", "police",
				   "petition", "screening"};
static const char *const titles[] = {"宅基地边界争议", "赡养老人纠纷",
				     "离婚财产分割", "邻里漏水纠纷",
				     "拖欠工资", "交通事故赔偿", "物业费争议",
				     "拆迁补偿争议", "房屋租赁纠纷"};

static int
disputes(struct gen *g, const struct place *p, unsigned year, unsigned cnt)
{
	char id[48], sid[48], no[96], d[16], c[16], a[32], b[32];
	unsigned i, k, sessions;
	int rc = 0;

	for (i = 0; rc == 0 && i < cnt; i++) {
		unsigned fate = below(g, 100);

		domain_newid(g->n, id, sizeof(id));
		number(g, p->shortname, "", year, no, sizeof(no));
		date_in(g, year, d, sizeof(d));
		person(g, a, sizeof(a));
		person(g, b, sizeof(b));
		rc = sql(g,
			 "INSERT INTO disputes(id, scope, no, recorded_by, "
			 "recorded_at, title, category, source, parties, "
			 "summary, risk, lead, status, opened) VALUES(%Q, %Q, "
			 "%Q, %Q, %Q, %Q, %Q, %Q, json_array(%Q, %Q), %Q, %Q, %Q,"
			 " 'registered', %Q)",
			 id, p->path, no, g->by, d, PICK(g, titles),
			 PICK(g, cats), PICK(g, srcs), a, b, "双方就有关事项发生争执。",
			 fate < 70 ? "low" : fate < 92 ? "medium" : "high",
			 fate % 4 == 0 ? "joint" : "judicial", d);
		if (rc != 0 || fate >= 97)
			continue; /* still registered */
		rc = sql(g, "UPDATE disputes SET status = 'mediating' WHERE "
			    "id = %Q",
			 id);
		sessions = 1 + below(g, 2);
		for (k = 0; rc == 0 && k < sessions; k++) {
			domain_newid(g->n, sid, sizeof(sid));
			date_after(d, 3 + 7 * k, c, sizeof(c));
			number(g, p->shortname, "调", year, no, sizeof(no));
			rc = sql(g,
				 "INSERT INTO mediations(id, scope, no, "
				 "recorded_by, recorded_at, dispute, date, "
				 "participants, result, agreement) VALUES(%Q, "
				 "%Q, %Q, %Q, %Q, %Q, %Q, json_array(%Q, %Q), "
				 "%Q, %Q)",
				 sid, p->path, no, g->by, c, id, c,
				 "调解员（司法所）", "民警（派出所）",
				 k + 1 == sessions && fate < 95 ? "agreed"
								: "adjourned",
				 k + 1 == sessions && fate < 95
					 ? "双方达成和解协议。"
					 : NULL);
		}
		if (rc != 0 || fate >= 95)
			continue; /* under mediation */
		date_after(d, 3 + 7 * sessions, c, sizeof(c));
		if (fate < 93)
			rc = sql(g, "UPDATE disputes SET status = 'resolved', "
				    "closed = %Q, outcome = '调解成功', "
				    "agreement = '双方达成和解协议。' WHERE id ="
				    " %Q",
				 c, id);
		else
			rc = sql(g, "UPDATE disputes SET status = 'failed', "
				    "closed = %Q, outcome = '调解不成' WHERE "
				    "id = %Q; UPDATE disputes SET status = "
				    "'referred', referred_to = 'court' WHERE "
				    "id = %Q",
				 c, id, id);
	}
	return rc;
}

/* Simple dated records: consults, petitions, risks, meetings, grid. */
static int
simple(struct gen *g, const struct place *p, unsigned year, double rate,
       const char *kind)
{
	const struct tsync_kind *k = tsync_kind_find(kind);
	char id[48], no[96], d[16], who[32], e[16];
	unsigned i, cnt = howmany(g, rate);
	int rc = 0;

	for (i = 0; rc == 0 && i < cnt; i++) {
		domain_newid(g->n, id, sizeof(id));
		number(g, p->shortname, k->tag, year, no, sizeof(no));
		date_in(g, year, d, sizeof(d));
		person(g, who, sizeof(who));
		date_after(d, 20, e, sizeof(e));
		if (strcmp(kind, "consult") == 0)
			rc = sql(g,
				 "INSERT INTO consults(id, scope, no, "
				 "recorded_by, recorded_at, lawyer, asker, "
				 "topic, question, answer, date, became) "
				 "VALUES(%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q)",
				 id, p->path, no, g->by, d, "值班律师", who,
				 PICK(g, titles), "请问应当如何维护自身权益？",
				 "建议先行协商调解，必要时依法起诉。", d,
				 below(g, 10) == 0 ? "dispute" : "none");
		else if (strcmp(kind, "petition") == 0) {
			int legal = below(g, 3) == 0;
			static const char *const to[] = {
				"court", "procuratorate", "police", "justice",
				"government", "local", "local"};

			rc = sql(g,
				 "INSERT INTO petitions(id, scope, no, "
				 "recorded_by, recorded_at, petitioner, "
				 "subject, category, received, lawyer, "
				 "triage, advice, routed_to, status, closed)"
				 " VALUES(%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,"
				 "%Q,'closed',%Q)",
				 id, p->path, no, g->by, d, who,
				 PICK(g, titles), PICK(g, cats), d, "值班律师",
				 legal ? "legal" : "nonlegal",
				 legal ? "属涉法涉诉事项，建议依法导入诉讼程序。"
				       : "属一般诉求，建议属地化解。",
				 legal ? PICK(g, to) : "local", e);
		} else if (strcmp(kind, "risk") == 0)
			rc = sql(g,
				 "INSERT INTO risks(id, scope, no, recorded_by,"
				 " recorded_at, subject, level, measures, date)"
				 " VALUES(%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q)",
				 id, p->path, no, g->by, d, "征地拆迁项目稳定风险",
				 below(g, 10) < 7 ? "low" : "medium",
				 "提前排查，三所联合入户宣讲政策。", d);
		else if (strcmp(kind, "grid") == 0)
			rc = sql(g,
				 "INSERT INTO grid_reports(id, scope, no, "
				 "recorded_by, recorded_at, reporter, seen, "
				 "place, date, status) VALUES(%Q,%Q,%Q,%Q,%Q,"
				 "%Q,%Q,%Q,%Q,'closed')",
				 id, p->path, no, g->by, d, who,
				 "两户因围墙问题发生口角。", "三组", d);
		else
			rc = sql(g,
				 "INSERT INTO meetings(id, scope, no, "
				 "recorded_by, recorded_at, kind, date, "
				 "attendees, minutes) VALUES(%Q,%Q,%Q,%Q,%Q,%Q,"
				 "%Q, json_array('司法所','派出所','律师事务所'),"
				 "%Q)",
				 id, p->path, no, g->by, d,
				 rate > 40 ? "weekly" : "monthly", d,
				 "研判辖区矛盾纠纷，部署下阶段工作。");
	}
	return rc;
}

static int
events(struct gen *g, const struct place *p, unsigned year, double rate)
{
	static const char *const kinds[] = {"lecture", "lecture", "saturday",
					    "youth", "quiz", "mocktrial",
					    "enterprise"};
	char id[48], no[96], d[16];
	unsigned i, cnt = howmany(g, rate);
	int rc = 0;

	for (i = 0; rc == 0 && i < cnt; i++) {
		domain_newid(g->n, id, sizeof(id));
		number(g, p->shortname, "普", year, no, sizeof(no));
		date_in(g, year, d, sizeof(d));
		rc = sql(g,
			 "INSERT INTO events(id, scope, no, recorded_by, "
			 "recorded_at, kind, title, date, place, speakers, "
			 "audience) VALUES(%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,%Q,"
			 "json_array('值班律师'), %u)",
			 id, p->path, no, g->by, d, PICK(g, kinds),
			 "民法典进村入户", d, "村民活动中心",
			 120 + below(g, 200));
	}
	return rc;
}

/* Files opened this year, and the year's monthly visits to each. */
static int
specials(struct gen *g, const struct place *p, unsigned year, double rate)
{
	static const char *const kinds[] = {"corrections", "corrections",
					    "released", "minor", "elderly"};
	char id[48], vid[48], no[96], d[16], who[32];
	unsigned i, m, cnt = howmany(g, rate);
	int rc = 0;

	for (i = 0; rc == 0 && i < cnt; i++) {
		domain_newid(g->n, id, sizeof(id));
		number(g, p->shortname, "档", year, no, sizeof(no));
		snprintf(d, sizeof(d), "%04u-%02u-01", year, 1 + below(g, 6));
		person(g, who, sizeof(who));
		rc = sql(g,
			 "INSERT INTO specials(id, scope, no, recorded_by, "
			 "recorded_at, kind, person, supervisor, since, status)"
			 " VALUES(%Q,%Q,%Q,%Q,%Q,%Q,%Q,'judicial',%Q,'active')",
			 id, p->path, no, g->by, d, PICK(g, kinds), who, d);
		for (m = 0; rc == 0 && m < 6; m++) {
			domain_newid(g->n, vid, sizeof(vid));
			number(g, p->shortname, "走", year, no, sizeof(no));
			date_after(d, 15 + 30 * m, who, sizeof(who));
			rc = sql(g,
				 "INSERT INTO visits(id, scope, no, recorded_by,"
				 " recorded_at, file, date, visitors, notes) "
				 "VALUES(%Q,%Q,%Q,%Q,%Q,%Q,%Q,"
				 "json_array('司法助理员','社区民警'),"
				 "'思想稳定，按时报到。')",
				 vid, p->path, no, g->by, who, id, who);
		}
	}
	return rc;
}

static int
village_records(struct gen *g, const struct place *p, unsigned year)
{
	int rc;

	if ((rc = disputes(g, p, year, howmany(g, 9.4))) == 0 &&
	    (rc = simple(g, p, year, 20, "consult")) == 0 &&
	    (rc = simple(g, p, year, 3, "petition")) == 0 &&
	    (rc = simple(g, p, year, 4, "risk")) == 0 &&
	    (rc = simple(g, p, year, 12, "meeting")) == 0 &&
	    (rc = simple(g, p, year, 6, "grid")) == 0 &&
	    (rc = events(g, p, year, 2)) == 0)
		rc = specials(g, p, year, 1.5);
	return rc;
}

static int
street_records(struct gen *g, const struct place *p, unsigned year)
{
	int rc = events(g, p, year, 15);

	return rc ? rc : simple(g, p, year, 52, "meeting");
}

/* One office's year as one commit; numbers restart with the year. */
static int
office_year(struct gen *g, const struct place *p, unsigned year,
	    int (*records)(struct gen *, const struct place *, unsigned))
{
	int rc;

	memset(g->seq, 0, sizeof(g->seq));
	if ((rc = tsync_node_begin(g->n)) != 0)
		return rc;
	if ((rc = records(g, p, year)) != 0) {
		tsync_node_rollback(g->n);
		return rc;
	}
	g->st->txns++;
	return tsync_node_commit(g->n);
}

/* Offices and roster, broadcast from the district. */
static int
places(struct gen *g)
{
	struct place d, s, v;
	unsigned i, j;
	int rc;

	if ((rc = tsync_node_begin(g->n)) != 0)
		return rc;
	snprintf(d.path, sizeof(d.path), "%s", g->n->district);
	snprintf(d.name, sizeof(d.name), "港闸区");
	snprintf(d.shortname, sizeof(d.shortname), "港闸");
	rc = office(g, &d, "district", "港闸区");
	for (i = 0; rc == 0 && i < g->o->streets; i++) {
		street_of(g, i, &s);
		rc = office(g, &s, "street", s.name);
		if (rc == 0)
			rc = roster(g, &s);
		for (j = 0; rc == 0 && j < g->o->villages; j++) {
			village_of(&s, i, j, &v);
			if ((rc = office(g, &v, "village", s.name)) == 0)
				rc = roster(g, &v);
		}
	}
	if (rc != 0) {
		tsync_node_rollback(g->n);
		return rc;
	}
	g->st->txns++;
	return tsync_node_commit(g->n);
}

int
tsync_generate(struct tsync_node *n, const struct tsync_gen_opts *o,
	       struct tsync_gen_stats *st)
{
	struct gen g = {n, o, st, 0x9e3779b97f4a7c15ULL ^ o->seed, "", "", {0}};
	struct place s, v;
	unsigned i, j, y;
	int rc;

	memset(st, 0, sizeof(*st));
	if (strchr(n->scope, '/') != NULL || strcmp(n->role, "office") != 0)
		return node_err(n, TSYNC_EINVAL,
				"generate writes a whole district: run it on "
				"the district's node (scope %s), not %s",
				n->district, n->scope);
	snprintf(g.by, sizeof(g.by), "数据生成器");
	snprintf(g.bcast, sizeof(g.bcast), "%s/*", n->district);
	if ((rc = places(&g)) != 0)
		return rc;
	for (y = o->end_year + 1 - o->years; y <= o->end_year; y++)
		for (i = 0; i < o->streets; i++) {
			street_of(&g, i, &s);
			if ((rc = office_year(&g, &s, y, street_records)) != 0)
				return rc;
			for (j = 0; j < o->villages; j++) {
				village_of(&s, i, j, &v);
				if ((rc = office_year(&g, &v, y, village_records)) != 0)
					return rc;
			}
		}
	return 0;
}
