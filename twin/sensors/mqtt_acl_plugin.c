/*
 * The twin's ACL plugin for Debian's mosquitto 2.0 (plugin API v5): which sensor key may
 * publish to which Datastream's topic, for any number of Datastreams (issue #20).
 *
 * Why: mosquitto reads an ACL file in quadratic time (44,000 lines took over 6 s per reload,
 * the broker deaf meanwhile) and checks a publish by walking the user's topics one by one, so
 * the ACL file cannot list a lighting provider's 44,000 lamps. This plugin loads a file of
 * "<user> <datastream id>" lines (twin/sensors/broker.py writes it from the database) into a
 * sorted array at start and at every reload (SIGHUP) and, for a publish to
 * v1.1/Datastreams(<id>)/Observations, allows it when (user, id) is listed: a binary search.
 * Everything else (reads, other topics, pairs not listed) falls through to the ACL file
 * (MOSQ_ERR_PLUGIN_DEFER), which gives sensor keys no Datastream topic to write when this
 * plugin is loaded, so an unlisted pair is refused.
 *
 * Options: plugin_opt_datastreams <path of the pairs file>.
 * Built by twin/sensors/broker.py: gcc -O2 -shared -fPIC (headers from mosquitto-dev).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define TOPIC_PREFIX "v1.1/Datastreams("
#define TOPIC_SUFFIX ")/Observations"

struct grant {
	const char *user;
	long long stream;
};

struct grants {
	char *text;          /* the file's bytes; users point into it */
	struct grant *items; /* sorted by (user, stream) */
	size_t count;
};

static mosquitto_plugin_id_t *plugin_id = NULL;
static char *pairs_path = NULL;
static struct grants current = {NULL, NULL, 0};

static int grant_compare(const void *a, const void *b)
{
	const struct grant *x = a, *y = b;
	int by_user = strcmp(x->user, y->user);
	if (by_user != 0) return by_user;
	return (x->stream > y->stream) - (x->stream < y->stream);
}

static void grants_free(struct grants *g)
{
	free(g->text);
	free(g->items);
	g->text = NULL;
	g->items = NULL;
	g->count = 0;
}

/* Read the pairs file into `out` (sorted); 0, or an errno value (out untouched). */
static int grants_load(const char *path, struct grants *out)
{
	FILE *file = fopen(path, "rb");
	if (file == NULL) return errno ? errno : EIO;
	size_t size = 0, room = 1 << 16;
	char *text = malloc(room + 1);
	if (text == NULL) {
		fclose(file);
		return ENOMEM;
	}
	for (;;) {
		size_t got = fread(text + size, 1, room - size, file);
		size += got;
		if (size < room) break;
		char *bigger = realloc(text, room * 2 + 1);
		if (bigger == NULL) {
			free(text);
			fclose(file);
			return ENOMEM;
		}
		text = bigger;
		room *= 2;
	}
	int failed = ferror(file);
	fclose(file);
	if (failed) {
		free(text);
		return EIO;
	}
	text[size] = '\0';

	size_t lines = 1;
	for (size_t i = 0; i < size; i++) lines += text[i] == '\n';
	struct grant *items = malloc(lines * sizeof *items);
	if (items == NULL) {
		free(text);
		return ENOMEM;
	}
	size_t count = 0;
	char *line = text;
	while (line != NULL && *line != '\0') {
		char *end = strchr(line, '\n');
		if (end != NULL) *end = '\0';
		char *space = strchr(line, ' ');
		if (space != NULL && space != line) {
			*space = '\0';
			char *rest = NULL;
			errno = 0;
			long long stream = strtoll(space + 1, &rest, 10);
			if (errno == 0 && rest != space + 1 && (*rest == '\0' || *rest == '\r')) {
				items[count].user = line;
				items[count].stream = stream;
				count++;
			}
		}
		line = end != NULL ? end + 1 : NULL;
	}
	qsort(items, count, sizeof *items, grant_compare);
	out->text = text;
	out->items = items;
	out->count = count;
	return 0;
}

/* Replace the grants with the file's; on failure none are left (a key then publishes to no
 * Datastream topic until the file reads again: refused rather than open). */
static void grants_reload(void)
{
	struct grants fresh = {NULL, NULL, 0};
	int error = pairs_path ? grants_load(pairs_path, &fresh) : EINVAL;
	grants_free(&current);
	if (error != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR,
			"twin acl plugin: cannot read %s (%s): no sensor key may publish to a Datastream",
			pairs_path ? pairs_path : "(plugin_opt_datastreams not set)", strerror(error));
		return;
	}
	current = fresh;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "twin acl plugin: %lu Datastream grants from %s",
		(unsigned long)current.count, pairs_path);
}

/* The Datastream id of v1.1/Datastreams(<id>)/Observations; 0 when the topic is another. */
static int topic_stream(const char *topic, long long *stream)
{
	size_t prefix = sizeof TOPIC_PREFIX - 1;
	if (topic == NULL || strncmp(topic, TOPIC_PREFIX, prefix) != 0) return 0;
	const char *p = topic + prefix;
	long long value = 0;
	int digits = 0;
	while (isdigit((unsigned char)*p)) {
		if (++digits > 18) return 0;
		value = value * 10 + (*p - '0');
		p++;
	}
	if (digits == 0 || strcmp(p, TOPIC_SUFFIX) != 0) return 0;
	*stream = value;
	return 1;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *check = event_data;
	long long stream;
	(void)event;
	(void)userdata;
	if (check->access != MOSQ_ACL_WRITE || !topic_stream(check->topic, &stream)) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	const char *user = mosquitto_client_username(check->client);
	if (user == NULL || current.count == 0) return MOSQ_ERR_PLUGIN_DEFER;
	struct grant wanted = {user, stream};
	if (bsearch(&wanted, current.items, current.count, sizeof wanted, grant_compare) != NULL) {
		return MOSQ_ERR_SUCCESS;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_reload(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	grants_reload();
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
	struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	plugin_id = identifier;
	for (int i = 0; i < option_count; i++) {
		if (strcmp(options[i].key, "datastreams") == 0) {
			free(pairs_path);
			pairs_path = strdup(options[i].value);
		}
	}
	grants_reload();
	int rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	if (rc != MOSQ_ERR_SUCCESS) return rc;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	if (plugin_id != NULL) {
		mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
		mosquitto_callback_unregister(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL);
	}
	grants_free(&current);
	free(pairs_path);
	pairs_path = NULL;
	return MOSQ_ERR_SUCCESS;
}
