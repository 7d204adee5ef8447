/* plots/sweep.c: the grid spec (order, canonical tokens, every error), and the JSON Lines file --
 * resume after a stop, a torn record, a torn header, another sweep's header, a damaged record,
 * a foreign file, and a point that fails on its parameters. */
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "check.h"
#include "valley/sweep.h"

static const valley_sweep_param_t ALLOWED[] = {{"a", 1}, {"b", 1}, {"name", 0}, {"n", 1}};
#define NALLOWED (sizeof ALLOWED / sizeof ALLOWED[0])

static int parses(const char *spec, const char *canonical, size_t npoints) {
  valley_sweep_grid_t g;
  valley_error_t err;
  if (valley_sweep_grid_parse(&g, spec, ALLOWED, NALLOWED, &err) != VALLEY_OK) return 0;
  int ok = strcmp(g.canonical, canonical) == 0 && g.npoints == npoints;
  if (!ok) printf("      '%s' -> '%s' (%zu points)\n", spec, g.canonical, g.npoints);
  valley_sweep_grid_free(&g);
  return ok;
}

static int rejects(const char *spec, const char *words) {
  valley_sweep_grid_t g;
  valley_error_t err;
  valley_status_t st = valley_sweep_grid_parse(&g, spec, ALLOWED, NALLOWED, &err);
  int ok = st == VALLEY_EINVAL && strstr(err.message, words) != NULL && g.canonical == NULL;
  if (!ok) printf("      '%s': %s\n", spec, st == VALLEY_OK ? "accepted" : err.message);
  if (st == VALLEY_OK) valley_sweep_grid_free(&g);
  return ok;
}

/* A point: a = 1 fails on its parameters; stop_after stops the sweep after that many points. */
typedef struct {
  int calls;
  int stop_after;
  volatile sig_atomic_t stop;
} fake_t;

static valley_status_t fake_point(size_t index, const char *const *v, valley_json_t *j, void *arg,
                                  valley_error_t *err) {
  fake_t *f = arg;
  f->calls++;
  if (f->stop_after > 0 && f->calls == f->stop_after) f->stop = 1;
  if (strcmp(v[0], "1") == 0) {
    valley_json_number(j, "half_written", 1); /* discarded: the record becomes an error record */
    return VALLEY_ERROR(err, VALLEY_EDOM, "a = 1 is outside the domain");
  }
  valley_json_number(j, "sum", strtod(v[0], NULL) + (double)index);
  valley_json_string(j, "name", v[1]);
  return VALLEY_OK;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  return s;
}

static void spit(const char *path, const char *s, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(s, 1, n, f);
  fclose(f);
}

static valley_status_t run(const valley_sweep_grid_t *g, const char *path, const char *header,
                           fake_t *f, size_t *resumed, size_t *done, valley_error_t *err) {
  valley_sweep_t s = {g, path, header, fake_point, f, &f->stop, NULL};
  return valley_sweep_run(&s, resumed, done, err);
}

int main(void) {
  check_t t = {0, 0};
  /* The spec. */
  check(&t, parses("a=1,2;b=0.5", "a=1,2;b=0.5", 2), "two parameters, canonical as written");
  check(&t, parses("a=2.0,1e1,+3,007,-0.0,0.1", "a=2,10,3,7,0,0.1", 6),
        "numbers in their shortest round-trip form, integers exact");
  check(&t, parses("n=18446744073709551615", "n=18446744073709551615", 1),
        "a 64-bit integer keeps every digit");
  check(&t, parses("name=x-1,y_2;a=1;b=1,2,3", "name=x-1,y_2;a=1;b=1,2,3", 6), "names");
  check(&t, rejects("", "empty"), "empty spec");
  check(&t, rejects("a", "not NAME="), "no '='");
  check(&t, rejects("a=", "empty value"), "no value");
  check(&t, rejects("a=1,,2", "empty value"), "empty value in a list");
  check(&t, rejects("a=1;", "not NAME="), "trailing ';'");
  check(&t, rejects("z=1", "unknown parameter 'z' (can sweep: a, b, name, n)"), "unknown name");
  check(&t, rejects("a=1;a=2", "given twice"), "a name twice");
  check(&t, rejects("a=x", "not a finite number"), "not a number");
  check(&t, rejects("a=nan", "not a finite number"), "NaN");
  check(&t, rejects("a=1e400", "not a finite number"), "overflow");
  check(&t, rejects("name=a b", "letters, digits"), "a space in a name");
  /* 10 x 10 x 100 x 101 = 1 010 000 points */
  char big[2048];
  size_t bl = 0;
  const char *bn[4] = {"a", "b", "n", "name"};
  int bc[4] = {10, 10, 100, 101};
  for (int q = 0; q < 4; q++) {
    bl += (size_t)snprintf(big + bl, sizeof big - bl, "%s%s=", q ? ";" : "", bn[q]);
    for (int i = 0; i < bc[q]; i++)
      bl += (size_t)snprintf(big + bl, sizeof big - bl, "%s%d", i ? "," : "", i);
  }
  check(&t, rejects(big, "more than 1000000 points"), "more than 10^6 points");
  big[bl - 4] = '\0'; /* name=0..99: 10^6 points exactly */
  check(&t, parses(big, big, 1000000), "10^6 points exactly");

  valley_sweep_grid_t g;
  valley_error_t err;
  valley_sweep_grid_parse(&g, "a=0,1,2;name=p,q", ALLOWED, NALLOWED, &err);
  const char *v[VALLEY_SWEEP_MAXP];
  int order = g.npoints == 6;
  const char *want[6][2] = {{"0", "p"}, {"0", "q"}, {"1", "p"}, {"1", "q"}, {"2", "p"}, {"2", "q"}};
  for (size_t i = 0; i < g.npoints && order; i++) {
    valley_sweep_grid_point(&g, i, v);
    order = strcmp(v[0], want[i][0]) == 0 && strcmp(v[1], want[i][1]) == 0;
  }
  check(&t, order, "points: the first parameter slowest, the last fastest");
  char desc[64];
  valley_sweep_grid_describe(&g, 3, desc, sizeof desc);
  check(&t, strcmp(desc, "a=1, name=q") == 0, "describe: '%s'", desc);

  /* The file. */
  const char *keys[2] = {"--x", "--y"}, *vals[2] = {"1", "two \"quoted\""};
  char *header = valley_sweep_header("fake", &g, keys, vals, 2);
  /* the settings, then the build object (plots/build.c) last */
  const char *settings = "{\"valley_sweep\":\"fake\",\"grid\":\"a=0,1,2;name=p,q\","
                         "\"--x\":\"1\",\"--y\":\"two \\\"quoted\\\"\",\"build\":{\"valley\":";
  check(&t, header && strncmp(header, settings, strlen(settings)) == 0 &&
                strstr(header, "\"gsl_runtime\":") && strcmp(header + strlen(header) - 2, "}}") == 0,
        "header: %s", header ? header : "(null)");
  char dir[] = "/tmp/valley_test_sweep_XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  char ref[128], path[128];
  snprintf(ref, sizeof ref, "%s/ref.jsonl", dir);
  snprintf(path, sizeof path, "%s/run.jsonl", dir);
  fake_t f = {0, 0, 0};
  size_t resumed, done;
  valley_status_t st = run(&g, ref, header, &f, &resumed, &done, &err);
  char *r = slurp(ref);
  check(&t, st == VALLEY_OK && done == 6 && resumed == 0 && f.calls == 6, "uninterrupted: 6 points");
  check(&t, r && strstr(r, "\n{\"index\":0,\"point\":{\"a\":0,\"name\":\"p\"},\"sum\":0,\"name\":\"p\"}\n"
                           "{\"index\":1,") != NULL, "records: one compact line each");
  check(&t, r && strstr(r, "{\"index\":2,\"point\":{\"a\":1,\"name\":\"p\"},\"error\":\"a = 1 is outside "
                           "the domain\"}\n") != NULL, "a point failing on its parameters: an error record");

  /* Stopped after 2 points, then resumed. */
  fake_t f2 = {0, 2, 0};
  st = run(&g, path, header, &f2, &resumed, &done, &err);
  check(&t, st == VALLEY_ECANCEL && done == 2, "stop flag: ECANCEL after 2 points (done %zu)", done);
  fake_t f3 = {0, 0, 0};
  st = run(&g, path, header, &f3, &resumed, &done, &err);
  char *p = slurp(path);
  check(&t, st == VALLEY_OK && resumed == 2 && done == 6 && f3.calls == 4 && p && r && strcmp(p, r) == 0,
        "resumed: 4 points computed, the same bytes");
  free(p);

  /* In pieces (cli/mpi.c): a file holding 2 points, the other 4 records computed in reverse
   * order (as other processes would, whenever they finish), appended in grid order. */
  {
    const char *second = strstr(strstr(r, "\n") + 1, "\n") + 1;
    spit(path, r, (size_t)(strstr(second, "\n") + 1 - r));
    fake_t f5 = {0, 0, 0};
    valley_sweep_t s = {&g, path, header, fake_point, &f5, NULL, NULL};
    valley_sweep_file_t file;
    size_t have = 0;
    char *line[6] = {NULL};
    size_t len[6] = {0};
    int failed[6] = {0}, ok = valley_sweep_open(&s, &file, &have, &err) == VALLEY_OK && have == 2;
    for (size_t i = 5; ok && i >= 2; i--)
      ok = valley_sweep_record(&s, i, &line[i], &len[i], &failed[i], &err) == VALLEY_OK;
    for (size_t i = 2; ok && i < 6; i++)
      ok = valley_sweep_append(&s, &file, line[i], len[i], &err) == VALLEY_OK;
    ok = ok && valley_sweep_close(&s, &file, &err) == VALLEY_OK;
    for (size_t i = 0; i < 6; i++) free(line[i]);
    p = slurp(path);
    check(&t, ok && f5.calls == 4 && failed[2] && failed[3] && !failed[4] && p && r && strcmp(p, r) == 0,
          "open, records computed out of order, appended in grid order: the same bytes");
    free(p);
  }

  /* A torn record and a torn header are cut away. */
  size_t rl = strlen(r);
  const char *third = strstr(strstr(strstr(r, "\n") + 1, "\n") + 1, "\n") + 1;
  spit(path, r, (size_t)(third - r) + 10);
  fake_t f4 = {0, 0, 0};
  st = run(&g, path, header, &f4, &resumed, &done, &err);
  p = slurp(path);
  check(&t, st == VALLEY_OK && resumed == 2 && f4.calls == 4 && p && strcmp(p, r) == 0,
        "torn record: cut away, the same bytes");
  free(p);
  spit(path, r, 12);
  st = run(&g, path, header, &f4, &resumed, &done, &err);
  p = slurp(path);
  check(&t, st == VALLEY_OK && resumed == 0 && p && strcmp(p, r) == 0, "torn header: rewritten");
  free(p);

  /* Another sweep's header, a damaged record, a foreign file: EINVAL, file untouched. */
  const char *vals2[2] = {"1.5", "two \"quoted\""};
  char *header2 = valley_sweep_header("fake", &g, keys, vals2, 2);
  spit(path, r, rl);
  st = run(&g, path, header2, &f4, &resumed, &done, &err);
  p = slurp(path);
  check(&t, st == VALLEY_EINVAL && strstr(err.message, "--x is '1' there but '1.5' in this run") &&
                p && strcmp(p, r) == 0, "other settings: EINVAL naming --x (%s)", err.message);
  free(p);
  char *dam = malloc(rl + 1);
  memcpy(dam, r, rl + 1);
  dam[(size_t)(third - r) + 9] = '7'; /* {"index":7 in the third line */
  spit(path, dam, rl);
  st = run(&g, path, header, &f4, &resumed, &done, &err);
  check(&t, st == VALLEY_EINVAL && strstr(err.message, "line 4 is not the record of grid point 2"),
        "damaged record: EINVAL (%s)", err.message);
  spit(path, "hello\nworld\n", 12);
  st = run(&g, path, header, &f4, &resumed, &done, &err);
  p = slurp(path);
  check(&t, st == VALLEY_EINVAL && p && strcmp(p, "hello\nworld\n") == 0,
        "a foreign file: EINVAL, untouched (%s)", err.message);
  free(p);
  spit(path, r, rl);
  valley_sweep_grid_t g2;
  valley_sweep_grid_parse(&g2, "a=0,1;name=p,q", ALLOWED, NALLOWED, &err);
  char *header3 = valley_sweep_header("fake", &g2, keys, vals, 2);
  st = run(&g2, path, header3, &f4, &resumed, &done, &err);
  check(&t, st == VALLEY_EINVAL && strstr(err.message, "grid is 'a=0,1,2;name=p,q' there"),
        "another grid: EINVAL naming it (%s)", err.message);

  /* The same settings written by another build, or by a valley before the build object. */
  {
    const char *nl = strchr(r, '\n'), *b = strstr(r, ",\"build\":{");
    size_t hlen = (size_t)(nl - r), cut = (size_t)(b - r);
    char *other = malloc(rl + 16);
    memcpy(other, r, cut);
    const char *ob = ",\"build\":{\"valley\":\"0.0.9\"}}";
    memcpy(other + cut, ob, strlen(ob));
    memcpy(other + cut + strlen(ob), nl, rl - hlen + 1);
    spit(path, other, strlen(other));
    st = run(&g, path, header, &f4, &resumed, &done, &err);
    p = slurp(path);
    check(&t, st == VALLEY_EINVAL && strstr(err.message, "written by another build of valley") &&
                  p && strcmp(p, other) == 0, "another build: EINVAL, untouched (%s)", err.message);
    free(p);
    memcpy(other + cut, "}", 1);
    memcpy(other + cut + 1, nl, rl - hlen + 1);
    spit(path, other, strlen(other));
    st = run(&g, path, header, &f4, &resumed, &done, &err);
    check(&t, st == VALLEY_EINVAL && strstr(err.message, "written by an older build of valley"),
          "a header without a build object: EINVAL (%s)", err.message);
    free(other);
    spit(path, r, rl);
  }

  /* A file another sweep is writing (flock held through another descriptor). */
  int lfd = open(ref, O_RDWR);
  int locked = lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0;
  st = run(&g, ref, header, &f4, &resumed, &done, &err);
  check(&t, locked && st == VALLEY_EINVAL && strstr(err.message, "being written by another sweep"),
        "a file another sweep holds: EINVAL (%s)", err.message);
  if (lfd >= 0) close(lfd);

  unlink(ref);
  unlink(path);
  rmdir(dir);
  free(dam);
  free(r);
  free(header);
  free(header2);
  free(header3);
  valley_sweep_grid_free(&g);
  valley_sweep_grid_free(&g2);
  return check_done(&t);
}
