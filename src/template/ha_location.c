/* SPDX-License-Identifier: MIT */
/* Home Assistant's distance() and closest(): where entities are (their
 * latitude and longitude attributes) against the home the homeassistant:
 * block configures, on the WGS-84 ellipsoid as Home Assistant measures,
 * in the unit system's lengths (kilometres, or miles). */
#include "lib/internal.h"

#include <math.h>
#include <string.h>

#include "mqbridge/states.h"
#include "mqbridge/location.h"
#include "template/tpl.h"

#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

/* Vincenty's inverse solution on WGS-84 (T. Vincenty, Survey Review
 * XXIII, 1975), in metres rounded to the millimetre as Home Assistant's
 * location util rounds its kilometres to six places; NAN when it does
 * not converge (nearly antipodal points), where Home Assistant has None. */
static double vincenty_m(double lat1, double lon1, double lat2, double lon2)
{
	const double a = 6378137.0, f = 1 / 298.257223563, b = 6356752.314245;
	const double rad = M_PI / 180;
	if (lat1 == lat2 && lon1 == lon2)
		return 0;
	double u1 = atan((1 - f) * tan(lat1 * rad)), u2 = atan((1 - f) * tan(lat2 * rad));
	double sin_u1 = sin(u1), cos_u1 = cos(u1), sin_u2 = sin(u2), cos_u2 = cos(u2);
	double l = (lon2 - lon1) * rad, lambda = l;
	double sin_sigma = 0, cos_sigma = 0, sigma = 0, cos_sq_alpha = 0, cos_2sm = 0;
	int i;
	for (i = 0; i < 200; i++) {
		double sl = sin(lambda), cl = cos(lambda);
		double p = cos_u2 * sl, q = cos_u1 * sin_u2 - sin_u1 * cos_u2 * cl;
		sin_sigma = sqrt(p * p + q * q);
		if (sin_sigma == 0)
			return 0;
		cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cl;
		sigma = atan2(sin_sigma, cos_sigma);
		double sin_alpha = cos_u1 * cos_u2 * sl / sin_sigma;
		cos_sq_alpha = 1 - sin_alpha * sin_alpha;
		/* on the equator cos_sq_alpha is 0 and the term vanishes */
		cos_2sm = cos_sq_alpha != 0 ? cos_sigma - 2 * sin_u1 * sin_u2 / cos_sq_alpha : 0;
		double c = f / 16 * cos_sq_alpha * (4 + f * (4 - 3 * cos_sq_alpha));
		double prev = lambda;
		lambda = l + (1 - c) * f * sin_alpha *
			(sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm * cos_2sm)));
		if (fabs(lambda - prev) < 1e-12)
			break;
	}
	if (i == 200)
		return NAN;
	double u_sq = cos_sq_alpha * (a * a - b * b) / (b * b);
	double ca = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)));
	double cb = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)));
	double ds = cb * sin_sigma *
		(cos_2sm + cb / 4 * (cos_sigma * (-1 + 2 * cos_2sm * cos_2sm) -
				     cb / 6 * cos_2sm * (-3 + 4 * sin_sigma * sin_sigma) *
				     (-3 + 4 * cos_2sm * cos_2sm)));
	double km = b * ca * (sigma - ds) / 1000;
	return round(km * 1e6) / 1e6 * 1000;
}

static const struct mqb_location *home(struct tpl_ctx *cx)
{
	static const struct mqb_location none;
	const struct mqb_tpl_vars *v = tpl_vars(cx);
	return v && v->core ? mqb_core_location(v->core) : &none;
}

/* Metres in the unit system's length unit. */
static struct tv length(struct tpl_ctx *cx, double m)
{
	if (isnan(m))
		return tv_none();
	return tv_float(home(cx)->miles ? m / 1609.344 : m / 1000);
}

/* Home Assistant's has_location: a state whose latitude and longitude
 * attributes are both floats (an int or a string is no location). */
static bool state_location(struct tpl_ctx *cx, struct tv st, double *lat, double *lon)
{
	if (st.t != TV_STATE || st.st->domain)
		return false;
	const struct tv *la = tv_dict_get(cx, &st.st->attributes, tv_cstr(cx, "latitude"));
	const struct tv *lo = tv_dict_get(cx, &st.st->attributes, tv_cstr(cx, "longitude"));
	if (!la || !lo || la->t != TV_FLOAT || lo->t != TV_FLOAT)
		return false;
	*lat = la->f;
	*lon = lo->f;
	return true;
}

/* distance(...): each argument a state, an entity id, or a latitude and
 * longitude pair (numbers or strings); one location is measured from
 * home, two from each other. None for what is not a location. */
FN(ha_distance)
{
	tpl_kw_check(cx, "distance", kw, nkw, TPL_KW(NULL));
	double lat[2], lon[2];
	size_t n = 0;
	for (size_t i = 0; i < nargs; i++) {
		struct tv v = args[i], st = tv_none();
		if (v.t == TV_STATE || (v.t == TV_STR && mqb_entity_id_valid(v.s->s)))
			st = tpl_ha_state_of(cx, v);
		double la, lo;
		if (st.t == TV_NONE) {
			if (i + 1 == nargs || !tpl_to_double(cx, v, &la) ||
			    !tpl_to_double(cx, args[++i], &lo))
				return tv_none();
		} else if (!state_location(cx, st, &la, &lo)) {
			return tv_none();
		}
		if (n == 2)
			tpl_fail(cx, "distance() takes at most two locations");
		lat[n] = la;
		lon[n++] = lo;
	}
	if (n == 0)
		tpl_fail(cx, "distance() takes a location");
	if (n == 1) {
		const struct mqb_location *h = home(cx);
		return length(cx, vincenty_m(h->latitude, h->longitude, lat[0], lon[0]));
	}
	return length(cx, vincenty_m(lat[0], lon[0], lat[1], lon[1]));
}

/* closest(entities), closest(state_or_id, entities), closest(lat, lon,
 * entities): of the entities (expanded: groups, domains, ids), the state
 * with a location nearest home, the state or the point; None when none
 * has one or the reference is no location. */
static struct tv closest(struct tpl_ctx *cx, const struct tv *a, size_t n)
{
	double lat, lon;
	if (n == 1) {
		lat = home(cx)->latitude;
		lon = home(cx)->longitude;
	} else if (n == 2) {
		if (!state_location(cx, tpl_ha_state_of(cx, a[0]), &lat, &lon))
			return tv_none();
	} else if (n == 3) {
		if (!tpl_to_double(cx, a[0], &lat) || !tpl_to_double(cx, a[1], &lon))
			return tv_none();
	} else {
		tpl_fail(cx, "closest() takes one to three arguments");
	}
	struct tv all = tpl_ha_expand(cx, &a[n - 1], 1), best = tv_none();
	double best_d = INFINITY;
	for (size_t i = 0; i < all.l->n; i++) {
		double la, lo;
		tpl_tick(cx);
		if (!state_location(cx, all.l->v[i], &la, &lo))
			continue;
		/* Home Assistant's min() key: a distance that did not converge counts as 0 */
		double d = vincenty_m(la, lo, lat, lon);
		if (isnan(d))
			d = 0;
		if (d < best_d) {
			best_d = d;
			best = all.l->v[i];
		}
	}
	return best;
}

FN(ha_closest)
{
	tpl_kw_check(cx, "closest", kw, nkw, TPL_KW(NULL));
	return closest(cx, args, nargs);
}

/* entities | closest(...): the entities move to the end. */
FN(ha_closest_filter)
{
	tpl_kw_check(cx, "closest", kw, nkw, TPL_KW(NULL));
	struct tv v[3];
	if (nargs > 3)
		tpl_fail(cx, "closest() takes one to three arguments");
	for (size_t i = 1; i < nargs; i++)
		v[i - 1] = args[i];
	v[nargs - 1] = args[0];
	return closest(cx, v, nargs);
}

#define F TPL_FILTER
#define U TPL_FUNCTION
const struct tpl_builtin tpl_ha_location_builtins[] = {
	{ "distance", U, ha_distance, 1, 64, false },
	{ "closest", U, ha_closest, 1, 3, false },
	{ "closest", F, ha_closest_filter, 1, 3, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
