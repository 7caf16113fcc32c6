/* Dates, RFC 5322 section 3.3 with the obsolete forms of section 4.3:
 * reading (mox_msg_date_parse) and writing (mox_msg_write_date).
 *
 *   date-time   = [ day-of-week "," ] date time [CFWS]
 *   day-of-week = ([FWS] day-name) / obs-day-of-week
 *   date        = day month year
 *   day         = ([FWS] 1*2DIGIT FWS) / obs-day
 *   month       = "Jan" / "Feb" / ... / "Dec"
 *   year        = (FWS 4*DIGIT FWS) / obs-year
 *   obs-year    = [CFWS] 2*DIGIT [CFWS]
 *   time        = time-of-day zone
 *   time-of-day = hour ":" minute [ ":" second ]
 *   zone        = (FWS ( "+" / "-" ) 4DIGIT) / obs-zone
 *   obs-zone    = "UT" / "GMT" / "EST" / "EDT" / "CST" / "CDT" / "MST" /
 *                 "MDT" / "PST" / "PDT" / military letters
 *
 * How this works: a cursor skips CFWS (comments iteratively, nesting
 * bounded by MOX_MSG_COMMENT_DEPTH_MAX) between the parts, which the
 * obsolete syntax allows everywhere. Names compare case-insensitively (RFC
 * 5234 section 2.3). Two-digit years get 1900 added when 50 or more, else
 * 2000; three-digit years get 1900 (section 4.3). Zones: military letters
 * and unknown alphabetic zones count as -0000 (section 4.3), which we store
 * as 0; a known zone followed by more ("EST5EDT", a POSIX TZ string) counts
 * as the known zone. Lenient beyond the RFC: full day and month names,
 * a numeric month, a one-digit hour, a missing zone (read as -0000) and a
 * zone name after the numeric zone without parentheses ("+0200 CEST").
 * The instant t is computed with the proleptic Gregorian calendar, without
 * the C library (no locale, no TZ environment). */
#include "msg_int.h"

#include <string.h>

typedef struct cur {
	const uint8_t *v;
	size_t len, pos;
} cur;

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Skip CFWS; false on an unterminated or too deeply nested comment. */
static bool
skip_cfws(cur *c)
{
	while (c->pos < c->len) {
		uint8_t ch = c->v[c->pos];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->pos++;
			continue;
		}
		if (ch != '(')
			break;
		size_t depth = 0;
		do {
			ch = c->v[c->pos++];
			if (ch == '\\' && c->pos < c->len)
				c->pos++;
			else if (ch == '(' && ++depth > MOX_MSG_COMMENT_DEPTH_MAX)
				return false;
			else if (ch == ')')
				depth--;
		} while (depth > 0 && c->pos < c->len);
		if (depth > 0)
			return false;
	}
	return true;
}

/* Read digits; their count goes to *ndigits (0: none). The value
 * saturates at 999999999, beyond any field's range. */
static int
read_num(cur *c, size_t *ndigits)
{
	int n = 0;
	size_t k = 0;
	while (c->pos < c->len && is_digit(c->v[c->pos])) {
		if (n < 100000000)
			n = n * 10 + (c->v[c->pos] - '0');
		k++;
		c->pos++;
	}
	*ndigits = k;
	return n;
}

static size_t
read_alpha(cur *c)
{
	size_t start = c->pos;
	while (c->pos < c->len && is_alpha(c->v[c->pos]))
		c->pos++;
	return c->pos - start;
}

static const char *const day_names[] = {"sunday", "monday", "tuesday",
					"wednesday", "thursday", "friday",
					"saturday"};
static const char *const month_names[] = {
	"january", "february", "march",     "april",   "may",      "june",
	"july",    "august",   "september", "october", "november", "december"};
static const char *const day_abbr[] = {"Sun", "Mon", "Tue", "Wed",
				       "Thu", "Fri", "Sat"};
static const char *const month_abbr[] = {"Jan", "Feb", "Mar", "Apr",
					 "May", "Jun", "Jul", "Aug",
					 "Sep", "Oct", "Nov", "Dec"};

/* Index of the name (3-letter abbreviation or full) in names, or -1. */
static int
lookup_name(const uint8_t *s, size_t n, const char *const *names, int count)
{
	for (int i = 0; i < count; i++) {
		if (n == 3 || n == strlen(names[i])) {
			bool eq = true;
			for (size_t k = 0; k < n && eq; k++)
				eq = mox__msg_lower((char)s[k]) == names[i][k];
			if (eq)
				return i;
		}
	}
	return -1;
}

/* RFC 5322 section 4.3 zones, in minutes east of UTC. */
static const struct {
	const char *name;
	int offset;
} zones[] = {
	{"ut", 0},         {"gmt", 0},        {"est", -5 * 60}, {"edt", -4 * 60},
	{"cst", -6 * 60},  {"cdt", -5 * 60},  {"mst", -7 * 60}, {"mdt", -6 * 60},
	{"pst", -8 * 60},  {"pdt", -7 * 60},
};

static int
zone_offset(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (mox__msg_eq_nocase(s, n, zones[i].name))
			return zones[i].offset;
	/* Military letters and unknown names: -0000. */
	return 0;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static long long
days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse: civil date of a day count. */
static void
civil_from_days(long long z, long long *y_out, int *m_out, int *d_out)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_out = yoe + era * 400 + (m <= 2);
	*m_out = m;
	*d_out = d;
}

static mox_err
syntax(mox_errinfo *info, const cur *c, const char *what)
{
	return mox_errinfo_set(info, MOX_ESYNTAX, c->pos, "%s at %zu", what,
			       c->pos);
}

mox_err
mox_msg_date_parse(const uint8_t *value, size_t len, mox_msg_date *date_out,
		   mox_errinfo *info)
{
	if (date_out == NULL || (value == NULL && len > 0))
		return MOX_EINVAL;
	memset(date_out, 0, sizeof(*date_out));
	cur c = {value, len, 0};
	mox_msg_date d;
	memset(&d, 0, sizeof(d));
	size_t nd, n;
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	/* [ day-of-week "," ] */
	size_t at = c.pos;
	if ((n = read_alpha(&c)) > 0) {
		if (lookup_name(value + at, n, day_names, 7) < 0)
			return syntax(info, &c, "unknown day of week");
		if (!skip_cfws(&c))
			return syntax(info, &c, "bad comment");
		if (c.pos < len && value[c.pos] == ',')
			c.pos++;
		if (!skip_cfws(&c))
			return syntax(info, &c, "bad comment");
	}
	d.day = read_num(&c, &nd);
	if (nd == 0 || nd > 2)
		return syntax(info, &c, "bad day");
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	at = c.pos;
	if ((n = read_alpha(&c)) > 0) {
		int m = lookup_name(value + at, n, month_names, 12);
		if (m < 0)
			return syntax(info, &c, "unknown month");
		d.month = m + 1;
	} else {
		/* Lenient: a numeric month. */
		d.month = read_num(&c, &nd);
		if (nd == 0 || nd > 2)
			return syntax(info, &c, "bad month");
	}
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	d.year = read_num(&c, &nd);
	if (nd < 2)
		return syntax(info, &c, "bad year");
	if (d.year > 9999)
		return mox_errinfo_set(info, MOX_ERANGE, c.pos, "year beyond 9999");
	if (nd == 2)
		d.year += d.year >= 50 ? 1900 : 2000;
	else if (nd == 3)
		d.year += 1900;
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	d.hour = read_num(&c, &nd);
	if (nd == 0 || nd > 2)
		return syntax(info, &c, "bad hour");
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	if (c.pos >= len || value[c.pos] != ':')
		return syntax(info, &c, "expected ':'");
	c.pos++;
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	d.minute = read_num(&c, &nd);
	if (nd != 2)
		return syntax(info, &c, "bad minute");
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	if (c.pos < len && value[c.pos] == ':') {
		c.pos++;
		if (!skip_cfws(&c))
			return syntax(info, &c, "bad comment");
		d.second = read_num(&c, &nd);
		if (nd != 2)
			return syntax(info, &c, "bad second");
		if (!skip_cfws(&c))
			return syntax(info, &c, "bad comment");
	}
	/* zone */
	bool numeric = false;
	if (c.pos < len && (value[c.pos] == '+' || value[c.pos] == '-')) {
		int sign = value[c.pos] == '-' ? -1 : 1;
		c.pos++;
		int hhmm = read_num(&c, &nd);
		if (nd != 4)
			return syntax(info, &c, "bad zone");
		if (hhmm / 100 > 23 || hhmm % 100 > 59)
			return mox_errinfo_set(info, MOX_ERANGE, c.pos,
					       "zone out of range at %zu", c.pos);
		d.tz_offset = sign * (hhmm / 100 * 60 + hhmm % 100);
		numeric = true;
	} else if ((at = c.pos, n = read_alpha(&c)) > 0) {
		d.tz_offset = zone_offset(value + at, n);
		/* "EST5EDT": the rest of a POSIX TZ string. */
		while (c.pos < len && (is_alpha(value[c.pos]) || is_digit(value[c.pos])))
			c.pos++;
	}
	if (!skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	if (numeric && read_alpha(&c) > 0 && !skip_cfws(&c))
		return syntax(info, &c, "bad comment");
	if (c.pos != len)
		return syntax(info, &c, "unexpected text");
	/* Values. RFC 5322 section 3.3: second 60 is a leap second. */
	if (d.month < 1 || d.month > 12)
		return mox_errinfo_set(info, MOX_ERANGE, 0, "month %d", d.month);
	if (d.day < 1 || d.day > days_in_month(d.year, d.month))
		return mox_errinfo_set(info, MOX_ERANGE, 0, "day %d of month %d",
				       d.day, d.month);
	if (d.hour > 23 || d.minute > 59 || d.second > 60)
		return mox_errinfo_set(info, MOX_ERANGE, 0, "time %02d:%02d:%02d",
				       d.hour, d.minute, d.second);
	long long t = days_from_civil(d.year, d.month, d.day) * 86400LL +
		      d.hour * 3600LL + d.minute * 60LL + d.second -
		      d.tz_offset * 60LL;
	d.t = (time_t)t;
	*date_out = d;
	return MOX_OK;
}

mox_err
mox_msg_write_date(mox_buf *out, time_t t, int tz_offset)
{
	if (out == NULL || tz_offset < -1439 || tz_offset > 1439)
		return MOX_EINVAL;
	/* Local time of the zone; floor division for times before 1970. */
	long long local = (long long)t + tz_offset * 60LL;
	long long days = local / 86400, secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	long long y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	/* RFC 5322 section 3.3: four-digit years, 1900 or later. */
	if (y < 1900 || y > 9999)
		return MOX_ERANGE;
	int wday = (int)((days % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	int tz = tz_offset < 0 ? -tz_offset : tz_offset;
	return mox_buf_appendf(out, "%s, %d %s %lld %02lld:%02lld:%02lld %c%02d%02d",
			       day_abbr[wday], d, month_abbr[m - 1], y,
			       secs / 3600, secs / 60 % 60, secs % 60,
			       tz_offset < 0 ? '-' : '+', tz / 60, tz % 60);
}
