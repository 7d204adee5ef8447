/* Fuzzes the command line's value parsers (cli/args.c): cli_opt_set for every option kind
 * (double, u64, size, int, string, flag), cli_parse_numbers (comma lists), and cli_parse on a
 * whole argument vector.  The first byte picks the kind; the rest, as a C string, is the value
 * and the numbers list; split at newlines it is also the argv given to cli_parse over a table
 * with one option of each kind.  Errors are printed to stderr, as in valley. */
#include "../../cli/cli.h"
#include "fuzz_util.h"

#define MAXARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *s = fuzz_string(data + 1, size - 1);
  double d = 0;
  uint64_t u = 0;
  size_t z = 0;
  int i = 0, flag = 0;
  const char *str = NULL;
  cli_opt_t opts[] = {
      {"--d", OPT_DOUBLE, &d, "X", "a double", 0},  {"--u", OPT_U64, &u, "N", "a u64", 0},
      {"--z", OPT_SIZE, &z, "N", "a size", 0},      {"--i", OPT_INT, &i, "N", "an int", 0},
      {"--s", OPT_STRING, &str, "S", "a string", 0}, {"--f", OPT_FLAG, &flag, NULL, "a flag", 0},
  };
  size_t nopts = sizeof opts / sizeof opts[0];
  char buf[128];
  cli_opt_t *o = &opts[data[0] % nopts];
  if (cli_opt_set("fuzz", o, s) == 0) cli_opt_format(o, buf, sizeof buf);

  double nums[8];
  (void)cli_parse_numbers(s, nums, 8);

  char *words = fuzz_string(data + 1, size - 1);
  char *argv[MAXARGS];
  int argc = 0;
  for (char *w = words; argc < MAXARGS;) {
    argv[argc++] = w;
    char *nl = strchr(w, '\n');
    if (nl == NULL) break;
    *nl = '\0';
    w = nl + 1;
  }
  for (size_t k = 0; k < nopts; k++) opts[k].given = 0;
  if (cli_parse("fuzz", argc, argv, opts, nopts) == 0)
    for (size_t k = 0; k < nopts; k++) cli_opt_format(&opts[k], buf, sizeof buf);
  free(words);
  free(s);
  return 0;
}
