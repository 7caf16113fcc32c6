/* RFC 3339 section 5.6 date-time, for FUTURERELEASE HOLDUNTIL (RFC 4865
 * section 3, erratum 2040) and the FUTURERELEASE EHLO keyword. Calendar
 * arithmetic is done here (proleptic Gregorian, days from 1970-01-01) so
 * no time zone or locale state is involved.
 *
 *   date-time    = full-date "T" full-time
 *   full-date    = date-fullyear "-" date-month "-" date-mday
 *   full-time    = partial-time time-offset
 *   partial-time = time-hour ":" time-minute ":" time-second [time-secfrac]
 *   time-offset  = "Z" / ("+" / "-") time-hour ":" time-minute
 */
#include "smtp_int.h"

#include <stdio.h>

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

static unsigned
month_days(unsigned y, unsigned m)
{
	static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return md[m - 1];
}

bool
mox__smtp_datetime_parse(const char *s, size_t len, int64_t *unix_out)
{
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
	    s[16] != ':' || !digits(s + 17, 2, &sec))
		return false;
	size_t p = 19;
	if (p < len && s[p] == '.') {
		size_t q = ++p;
		while (p < len && s[p] >= '0' && s[p] <= '9')
			p++;
		if (p == q)
			return false;
	}
	int sign = 0;
	if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
		p++;
	} else if (p < len && (s[p] == '+' || s[p] == '-')) {
		sign = s[p] == '+' ? 1 : -1;
		if (len - p < 6 || !digits(s + p + 1, 2, &oh) || s[p + 3] != ':' ||
		    !digits(s + p + 4, 2, &om) || oh > 23 || om > 59)
			return false;
		p += 6;
	} else {
		return false;
	}
	if (p != len)
		return false;
	/* RFC 3339 section 5.7: leap second 60 allowed. */
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60)
		return false;
	int64_t t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec;
	t -= (int64_t)sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
	*unix_out = t;
	return true;
}

void
mox__smtp_datetime_format(int64_t t, char out[32])
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t rem = t - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
		 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
}
