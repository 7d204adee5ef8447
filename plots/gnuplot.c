/* gnuplot at run time (include/valley/gnuplot.h). */
#define _GNU_SOURCE
#include "valley/gnuplot.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void valley_gnuplot_script_write(FILE *f, const char *name, const char *origin,
                                 const char *caption, const char *body) {
  fprintf(f,
          "# %s (%s)\n"
          "# %s\n"
          "# Edit and rerun in this directory: gnuplot %s.gp  (writes %s.png and %s.svg)\n"
          "DATA = '%s.csv'\n"
          "set datafile separator ','\n"
          "set key autotitle columnhead\n"
          "set terminal pngcairo size 960,600 enhanced font 'sans,11'\n"
          "set output '%s.png'\n",
          name, origin, caption, name, name, name, name, name);
  fputs(body != NULL ? body : "# (no plot commands)\n", f);
  fprintf(f,
          "set terminal svg size 960,600 enhanced font 'sans,11' background rgb 'white'\n"
          "set output '%s.svg'\n"
          "replot\n"
          "unset output\n",
          name);
}

char *valley_gnuplot_find(void) {
  const char *path = getenv("PATH");
  if (path == NULL) return NULL;
  while (*path) {
    const char *end = strchr(path, ':');
    size_t len = end != NULL ? (size_t)(end - path) : strlen(path);
    if (len > 0) {
      char *p = malloc(len + 10);
      if (p == NULL) return NULL;
      memcpy(p, path, len);
      memcpy(p + len, "/gnuplot", 9);
      if (access(p, X_OK) == 0) return p;
      free(p);
    }
    if (end == NULL) break;
    path = end + 1;
  }
  return NULL;
}

static int nonempty(const char *dir, const char *name, const char *ext) {
  size_t len = strlen(dir) + strlen(name) + strlen(ext) + 2;
  char *p = malloc(len);
  struct stat sb;
  int ok = 0;
  if (p != NULL) {
    snprintf(p, len, "%s/%s%s", dir, name, ext);
    ok = stat(p, &sb) == 0 && sb.st_size > 0;
  }
  free(p);
  return ok;
}

/* A failed or timed-out gnuplot may have left half a picture: neither stays. */
static int drop_pictures(const char *dir, const char *name) {
  static const char *const ext[] = {".png", ".svg"};
  for (size_t e = 0; e < 2; e++) {
    size_t len = strlen(dir) + strlen(name) + 6;
    char *p = malloc(len);
    if (p == NULL) continue;
    snprintf(p, len, "%s/%s%s", dir, name, ext[e]);
    unlink(p);
    free(p);
  }
  return 0;
}

int valley_gnuplot_render(const char *gnuplot, const char *dir, const char *name, int timeout_s) {
  size_t len = strlen(name) + 4;
  char *script = malloc(len);
  if (script == NULL) return 0;
  snprintf(script, len, "%s.gp", name);
  pid_t pid = fork();
  if (pid < 0) {
    free(script);
    return 0;
  }
  if (pid == 0) {
    if (chdir(dir) != 0) _exit(127);
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0) dup2(fd, 0);
    execl(gnuplot, "gnuplot", script, (char *)NULL);
    _exit(127);
  }
  free(script);
  int status = 0;
  for (long t = 0; t < 20L * timeout_s; t++) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid)
      return (WIFEXITED(status) && WEXITSTATUS(status) == 0 && nonempty(dir, name, ".png") &&
              nonempty(dir, name, ".svg")) || drop_pictures(dir, name);
    if (w < 0) return drop_pictures(dir, name);
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return drop_pictures(dir, name);
}
