/* Error codes: names and messages generated from MOX_ERR_MAP. */
#include <mox/core.h>

#include <stdarg.h>
#include <stdio.h>

unsigned
mox_core_version(void)
{
	return MOX_CORE_VERSION_HEX;
}

const char *
mox_strerror(mox_err err)
{
	switch (err) {
#define MOX__ERR_MSG(name, value, msg)                                         \
	case MOX_##name:                                                       \
		return msg;
		MOX_ERR_MAP(MOX__ERR_MSG)
#undef MOX__ERR_MSG
	}
	return "unknown error";
}

const char *
mox_err_name(mox_err err)
{
	switch (err) {
#define MOX__ERR_NAME(name, value, msg)                                        \
	case MOX_##name:                                                       \
		return "MOX_" #name;
		MOX_ERR_MAP(MOX__ERR_NAME)
#undef MOX__ERR_NAME
	}
	return "MOX_EUNKNOWN";
}

mox_err
mox_errinfo_set(mox_errinfo *info, mox_err code, size_t offset,
		const char *fmt, ...)
{
	if (info == NULL)
		return code;
	info->code = code;
	info->offset = offset;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(info->msg, sizeof(info->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		info->msg[0] = '\0';
	return code;
}
