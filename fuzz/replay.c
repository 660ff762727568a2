/* SPDX-License-Identifier: MIT */
/* Runs a fuzz target over saved inputs without libFuzzer: every file named
 * on the command line, every file in a directory named, or with no
 * arguments fuzz/<FUZZ_CORPUS> (from $srcdir under `make check`). Linked
 * once per target: fuzz_conf.c with corpus/, fuzz_tpl.c with corpus-tpl/. */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_CORPUS
#define FUZZ_CORPUS "corpus"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf)
		return -1;
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int run(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	DIR *d = opendir(path);
	if (!d) {
		perror(path);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char child[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		if (run(child, count) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	char corpus[PATH_MAX];
	unsigned count = 0;
	int rc = 0;
	if (argc < 2) {
		const char *srcdir = getenv("srcdir");
		if (srcdir) {
			snprintf(corpus, sizeof corpus, "%s/fuzz/" FUZZ_CORPUS, srcdir);
		} else {
			snprintf(corpus, sizeof corpus, "%s", __FILE__);
			char *slash = strrchr(corpus, '/');
			snprintf(slash ? slash + 1 : corpus,
				 sizeof corpus - (size_t)(slash ? slash + 1 - corpus : 0), FUZZ_CORPUS);
		}
		rc = run(corpus, &count);
	}
	for (int i = 1; i < argc; i++)
		if (run(argv[i], &count) < 0)
			rc = -1;
	printf("replayed %u inputs\n", count);
	return rc < 0 || count == 0 ? 1 : 0;
}
