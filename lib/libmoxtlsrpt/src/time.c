/* Date-times of TLS reports: RFC 8460 section 4.4 uses RFC 3339 section
 * 5.6 "date-time":
 *
 *   date-fullyear  = 4DIGIT
 *   date-month     = 2DIGIT  ; 01-12
 *   date-mday      = 2DIGIT  ; 01-28, 01-29, 01-30, 01-31
 *   time-hour      = 2DIGIT  ; 00-23
 *   time-minute    = 2DIGIT  ; 00-59
 *   time-second    = 2DIGIT  ; 00-58, 00-59, 00-60 (leap second)
 *   time-secfrac   = "." 1*DIGIT
 *   time-numoffset = ("+" / "-") time-hour ":" time-minute
 *   time-offset    = "Z" / time-numoffset
 *   date-time      = full-date "T" full-time
 *
 * "T" and "Z" may be lower case (RFC 3339 section 5.6 note). A missing
 * offset is read as UTC, as mox does for Microsoft's reports (which break
 * RFC 8460 section 4.4 so). Fractions beyond 9 digits are refused. Calendar
 * arithmetic is Howard Hinnant's days_from_civil, exact for any year. */
#include "tlsrpt_int.h"

#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!mox__tlsrpt_is_digit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

static unsigned
days_in_month(unsigned y, unsigned m)
{
	static const unsigned dim[12] = {31, 28, 31, 30, 31, 30,
	                                 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

mox_err
mox_tlsrpt_time_parse(const char *s, size_t n, mox_tlsrpt_time *out)
{
	if (s == NULL || out == NULL)
		return MOX_EINVAL;
	memset(out, 0, sizeof(*out));
	unsigned y, mo, d, h, mi, se;
	if (n < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
	    s[16] != ':' || !digits(s + 17, 2, &se))
		return MOX_ESYNTAX;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || se > 60)
		return MOX_ESYNTAX;
	size_t i = 19;
	uint32_t ns = 0;
	if (i < n && s[i] == '.') {
		size_t fs = ++i;
		while (i < n && mox__tlsrpt_is_digit((unsigned char)s[i]))
			i++;
		if (i == fs || i - fs > 9)
			return MOX_ESYNTAX;
		for (size_t k = 0; k < 9; k++)
			ns = ns * 10 + (fs + k < i ? (uint32_t)(s[fs + k] - '0') : 0);
	}
	int32_t off = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		unsigned oh, om;
		if (n - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return MOX_ESYNTAX;
		off = (int32_t)(oh * 3600 + om * 60);
		if (s[i] == '-')
			off = -off;
		i += 6;
	}
	/* else: no offset, read as UTC (mox's leniency). */
	if (i != n)
		return MOX_ESYNTAX;
	int64_t secs =
	    days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + se;
	out->seconds = secs - off;
	out->nanoseconds = ns;
	out->utc_offset = off;
	return MOX_OK;
}

mox_err
mox_tlsrpt_time_format(const mox_tlsrpt_time *t, mox_buf *out)
{
	if (t == NULL || out == NULL || t->nanoseconds >= 1000000000u ||
	    t->utc_offset <= -86400 || t->utc_offset >= 86400)
		return MOX_EINVAL;
	int64_t local = t->seconds + t->utc_offset;
	int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int64_t rem = local - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return MOX_ERANGE;
	char frac[12] = "";
	if (t->nanoseconds != 0) {
		/* Go's RFC3339Nano: the fraction without trailing zeros. */
		uint32_t v = t->nanoseconds;
		char digs[10];
		for (int k = 8; k >= 0; k--) {
			digs[k] = (char)('0' + v % 10);
			v /= 10;
		}
		int last = 8;
		while (last > 0 && digs[last] == '0')
			last--;
		frac[0] = '.';
		memcpy(frac + 1, digs, (size_t)last + 1);
		frac[last + 2] = '\0';
	}
	char zone[8] = "Z";
	if (t->utc_offset != 0) {
		int32_t o = t->utc_offset < 0 ? -t->utc_offset : t->utc_offset;
		zone[0] = t->utc_offset < 0 ? '-' : '+';
		zone[1] = (char)('0' + o / 36000);
		zone[2] = (char)('0' + o / 3600 % 10);
		zone[3] = ':';
		zone[4] = (char)('0' + o % 3600 / 600);
		zone[5] = (char)('0' + o % 3600 / 60 % 10);
		zone[6] = '\0';
	}
	return mox_buf_appendf(out, "%04d-%02u-%02uT%02d:%02d:%02d%s%s", (int)y, m, d,
	                       (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
	                       frac, zone);
}
