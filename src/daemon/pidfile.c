/* SPDX-License-Identifier: MIT */
/* The pid file: refuses a second instance, replaces a stale file, and is
 * removed at exit only while it still names this process.
 *
 * How, and why this way. The file is written complete in a temporary file
 * beside it (created O_CREAT|O_EXCL by mkostemp) and put in place with
 * link(2), which, like O_CREAT|O_EXCL, fails when the name exists: so the
 * file appears whole, never empty or half-written, to anyone who reads it.
 * We also hold an flock(2) on it for our whole life. Checking the pid alone
 * cannot settle a race between two instances that both find the same stale
 * file (both would replace it, and both would run); the lock can: to
 * replace a stale file an instance must first lock the old file and then
 * see that the name still refers to it, so of two racers exactly one wins
 * and the other finds a locked file. A lock is released by the kernel when
 * its holder dies, so a crash never leaves a file that looks held. The
 * descriptor is close-on-exec: commands the daemon runs do not inherit it.
 * A file whose lock is free but whose pid is alive (written by another
 * tool, or by a version without the lock) is still refused: kill(pid, 0). */
#include "lib/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/pidfile.h"

struct pidfile {
	char *path;
	int fd;     /* the file's inode, locked while we run */
	pid_t pid;
};

/* The pid in the file behind fd; -EINVAL when it holds none (empty,
 * garbage), -errno when it cannot be read. */
static int read_pid(int fd, pid_t *out)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf || v <= 0 || (pid_t)v != v || (*end && *end != '\n'))
		return -EINVAL;
	*out = (pid_t)v;
	return 0;
}

/* Alive as far as kill(2) can tell: EPERM means it exists but is not ours.
 * Our own pid is never "another instance" (a container's daemon is always
 * pid 1, and so is the one whose stale file it finds). */
static bool alive(pid_t pid)
{
	return pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM);
}

static bool same_file(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* A locked temporary file beside path that holds our pid. */
static int make_temp(const char *path, pid_t pid, char **tmp_out, int *fd_out)
{
	size_t len = strlen(path);
	char *tmp = mqb__malloc(len + sizeof ".XXXXXX");
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", sizeof ".XXXXXX");
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		mqb__free(tmp);
		return rc;
	}
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", (long)pid);
	int rc = 0;
	errno = 0;
	/* The new inode is known to nobody yet: the lock is uncontended. */
	if (fchmod(fd, 0644) < 0 || flock(fd, LOCK_EX) < 0)
		rc = -errno;
	else if (write(fd, text, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	if (rc) {
		unlink(tmp);
		close(fd);
		mqb__free(tmp);
		return rc;
	}
	*tmp_out = tmp;
	*fd_out = fd;
	return 0;
}

/* The name exists: 1 when we replaced a stale file, 0 when the name went
 * away or changed meanwhile (try again), -EEXIST (with *holder) or -errno. */
static int take_over(const char *path, const char *tmp, pid_t *holder)
{
	int ofd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (ofd < 0)
		return errno == ENOENT ? 0 : -errno;
	int rc;
	pid_t other = 0;
	if (flock(ofd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			/* Held; 0 if the holder's pid is not (or no longer) readable. */
			if (read_pid(ofd, &other) || !alive(other))
				other = 0;
			*holder = other;
			rc = -EEXIST;
		} else {
			rc = -errno;
		}
	} else if (!same_file(ofd, path)) {
		rc = 0; /* replaced or removed while we opened it */
	} else if (read_pid(ofd, &other) == 0 && alive(other)) {
		*holder = other;
		rc = -EEXIST;
	} else {
		/* Stale. Replaced while we hold its lock: a racer either fails
		 * to lock it, or locks it after us and finds the name moved on. */
		if (other)
			MQB_LOG_WARNING("pidfile", "%s: replacing a stale pid file (process %ld "
					"is gone)", path, (long)other);
		else
			MQB_LOG_WARNING("pidfile", "%s: replacing a pid file that holds no pid",
					path);
		rc = rename(tmp, path) < 0 ? -errno : 1;
	}
	close(ofd);
	return rc;
}

int pidfile__create(const char *path, struct pidfile **out, pid_t *holder)
{
	struct pidfile *pf = mqb__calloc(1, sizeof *pf);
	char *tmp = NULL;
	int rc;
	*holder = 0;
	if (pf)
		pf->fd = -1;
	if (!pf || !(pf->path = mqb__strdup(path))) {
		rc = -ENOMEM;
		goto out;
	}
	pf->pid = getpid();
	if ((rc = make_temp(path, pf->pid, &tmp, &pf->fd)))
		goto out;
	/* Bounded: each round ends because someone else created, replaced or
	 * removed the file; ten in a row means something is fighting us. */
	rc = -EBUSY;
	for (int round = 0; round < 10; round++) {
		if (link(tmp, path) == 0) {
			unlink(tmp);
			rc = 0;
			break;
		}
		if (errno != EEXIST) {
			rc = -errno;
			break;
		}
		int r = take_over(path, tmp, holder);
		if (r < 0) {
			rc = r;
			break;
		}
		if (r == 1) {
			rc = 0; /* tmp was renamed onto path */
			mqb__free(tmp);
			tmp = NULL;
			break;
		}
	}
out:
	if (tmp) {
		if (rc)
			unlink(tmp);
		mqb__free(tmp);
	}
	if (rc) {
		if (pf && pf->fd >= 0)
			close(pf->fd);
		if (pf)
			mqb__free(pf->path);
		mqb__free(pf);
		return rc;
	}
	*out = pf;
	return 0;
}

void pidfile__remove(struct pidfile *pf)
{
	if (!pf)
		return;
	pid_t pid;
	/* Only while the name still refers to our file and it names us: an
	 * operator may have removed it, or another instance replaced it. */
	if (same_file(pf->fd, pf->path) && read_pid(pf->fd, &pid) == 0 && pid == pf->pid)
		unlink(pf->path);
	close(pf->fd); /* releases the lock, after the name is gone */
	mqb__free(pf->path);
	mqb__free(pf);
}
