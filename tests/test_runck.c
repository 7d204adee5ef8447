/* sim/runck.c, the resumable-run file: records read back as written, a torn or damaged tail cut
 * and recomputed, foreign and damaged files refused with a message naming them, and the
 * single-state form written atomically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "valley/runck.h"

static long file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static int has(const valley_error_t *e, const char *needle) {
  return strstr(e->message, needle) != NULL;
}

int main(void) {
  check_t t = {0, 0};
  char dir[] = "/tmp/valley-runck-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  char path[256], state[256];
  snprintf(path, sizeof path, "%s/run.ck", dir);
  snprintf(state, sizeof state, "%s/train.state", dir);
  valley_error_t err;
  valley_runck_t *ck = NULL;
  const char *fp = "valley test --a 1 --b 2(default)";

  /* a new file: header only, nothing done */
  valley_status_t st = valley_runck_open(path, fp, 4, &ck, &err);
  check(&t, st == VALLEY_OK && valley_runck_done(ck) == 0, "new file opens with 0 blocks done");
  long header = file_size(path);
  check(&t, header > (long)strlen(fp), "the header holds the fingerprint (%ld bytes)", header);
  double a[3] = {1.5, -2.25, 1e300}, b[1] = {42};
  st = valley_runck_put(ck, 2, a, sizeof a, &err);
  check(&t, st == VALLEY_OK, "block 2 put");
  st = valley_runck_put(ck, 0, b, sizeof b, &err);
  check(&t, st == VALLEY_OK, "block 0 put");
  st = valley_runck_put(ck, 2, a, sizeof a, &err);
  check(&t, st == VALLEY_EINVAL, "block 2 twice is refused");
  st = valley_runck_put(ck, 4, a, sizeof a, &err);
  check(&t, st == VALLEY_EINVAL, "block 4 of 4 is refused");
  valley_runck_close(ck, 0);
  long two = file_size(path);
  /* each record: 8 + 8 + payload + 4 */
  check(&t, two == header + (8 + 8 + 24 + 4) + (8 + 8 + 8 + 4), "file size after two records: %ld",
        two);

  /* read back */
  st = valley_runck_open(path, fp, 4, &ck, &err);
  size_t len = 0;
  const double *g2 = st == VALLEY_OK ? valley_runck_get(ck, 2, &len) : NULL;
  check(&t, st == VALLEY_OK && valley_runck_done(ck) == 2, "reopened: 2 blocks done");
  check(&t, g2 != NULL && len == sizeof a && memcmp(g2, a, sizeof a) == 0,
        "block 2 reads back bit for bit");
  check(&t, ck != NULL && valley_runck_get(ck, 1, NULL) == NULL, "block 1 is not done");
  valley_runck_close(ck, 0);

  /* a torn tail (a crash in the middle of a record): cut, the rest kept */
  FILE *f = fopen(path, "ab");
  const unsigned char torn[13] = {3, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0};
  fwrite(torn, 1, sizeof torn, f);
  fclose(f);
  st = valley_runck_open(path, fp, 4, &ck, &err);
  check(&t, st == VALLEY_OK && valley_runck_done(ck) == 2 && file_size(path) == two,
        "a torn record at the end is cut off (size %ld, want %ld)", file_size(path), two);
  valley_runck_close(ck, 0);

  /* a flipped bit in the last record: its CRC fails, it is cut and recomputed */
  f = fopen(path, "r+b");
  fseek(f, two - 6, SEEK_SET);
  int c = fgetc(f);
  fseek(f, two - 6, SEEK_SET);
  fputc(c ^ 1, f);
  fclose(f);
  st = valley_runck_open(path, fp, 4, &ck, &err);
  check(&t, st == VALLEY_OK && valley_runck_done(ck) == 1 && valley_runck_get(ck, 0, NULL) == NULL,
        "a damaged last record is dropped (block 0 to recompute)");
  st = ck != NULL ? valley_runck_put(ck, 0, b, sizeof b, &err) : VALLEY_EIO;
  check(&t, st == VALLEY_OK, "and put again");
  valley_runck_close(ck, 0);
  check(&t, file_size(path) == two, "the file is whole again (%ld bytes)", file_size(path));

  /* another run's file */
  st = valley_runck_open(path, "valley test --a 3 --b 2(default)", 4, &ck, &err);
  check(&t, st == VALLEY_EINVAL && ck == NULL && has(&err, "different run") &&
                has(&err, "--a 1") && has(&err, "--a 3"),
        "another fingerprint is refused, naming the setting: %s", err.message);
  st = valley_runck_open(path, fp, 5, &ck, &err);
  check(&t, st == VALLEY_EINVAL && has(&err, "different run"), "another block count is refused");

  /* not a checkpoint; a damaged header */
  char junk[256];
  snprintf(junk, sizeof junk, "%s/junk", dir);
  f = fopen(junk, "wb");
  fputs("hello\n", f);
  fclose(f);
  st = valley_runck_open(junk, fp, 4, &ck, &err);
  check(&t, st == VALLEY_EINVAL && has(&err, junk) && has(&err, "not a valley run checkpoint"),
        "a foreign file is refused: %s", err.message);
  f = fopen(junk, "wb");
  fputs("valley-runck 1 le64 4\n", f);
  fclose(f);
  st = valley_runck_open(junk, fp, 4, &ck, &err);
  check(&t, st == VALLEY_EINVAL && has(&err, "header"), "a damaged header is refused: %s",
        err.message);
  /* an unwritable place */
  st = valley_runck_open("/nonexistent-dir/x.ck", fp, 4, &ck, &err);
  check(&t, st == VALLEY_EIO && has(&err, "/nonexistent-dir/x.ck"), "a missing directory: %s",
        err.message);
  valley_runck_close(NULL, 1);

  /* remove on close */
  st = valley_runck_open(path, fp, 4, &ck, &err);
  valley_runck_close(ck, 1);
  check(&t, st == VALLEY_OK && access(path, F_OK) != 0, "close with remove deletes the file");

  /* the single-state form */
  void *data = NULL;
  st = valley_runck_load_state(state, fp, &data, &len, &err);
  check(&t, st == VALLEY_OK && data == NULL, "no state yet: nothing to load");
  float s1[5] = {1, 2, 3, 4, 5}, s2[3] = {7, 8, 9};
  st = valley_runck_save_state(state, fp, s1, sizeof s1, &err);
  check(&t, st == VALLEY_OK, "state saved");
  st = valley_runck_save_state(state, fp, s2, sizeof s2, &err);
  check(&t, st == VALLEY_OK, "state replaced");
  st = valley_runck_load_state(state, fp, &data, &len, &err);
  check(&t, st == VALLEY_OK && len == sizeof s2 && data != NULL && memcmp(data, s2, len) == 0,
        "the last state reads back bit for bit");
  free(data);
  st = valley_runck_load_state(state, "other", &data, &len, &err);
  check(&t, st == VALLEY_EINVAL && data == NULL, "a state of another run is refused");
  long ss = file_size(state);
  if (truncate(state, ss - 1) != 0) return 1;
  st = valley_runck_load_state(state, fp, &data, &len, &err);
  check(&t, st == VALLEY_EINVAL && data == NULL && has(&err, "damaged or cut"),
        "a cut state is refused: %s", err.message);
  st = valley_runck_save_state("/nonexistent-dir/s", fp, s2, sizeof s2, &err);
  check(&t, st == VALLEY_EIO, "a state into a missing directory fails: %s", err.message);

  /* what a SIGKILL in the middle of an atomic save leaves: removed; look-alikes kept */
  char stale[300], keep1[300], keep2[300];
  snprintf(stale, sizeof stale, "%s.tmp.AbC123", state);
  snprintf(keep1, sizeof keep1, "%s.tmp.AbC12", state);
  snprintf(keep2, sizeof keep2, "%s.tmpxAbC123", state);
  fclose(fopen(stale, "w"));
  fclose(fopen(keep1, "w"));
  fclose(fopen(keep2, "w"));
  valley_runck_remove_stale(state);
  check(&t, access(stale, F_OK) != 0 && access(keep1, F_OK) == 0 && access(keep2, F_OK) == 0 &&
                access(state, F_OK) == 0,
        "remove_stale removes PATH.tmp.XXXXXX only");
  unlink(keep1);
  unlink(keep2);
  unlink(state);
  unlink(junk);
  rmdir(dir);
  return check_done(&t);
}
