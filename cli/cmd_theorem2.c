/* valley theorem2: Theorem 2 of He, Huang, Yuan (2019) checked (paper_checks/thm2_check.c). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "valley/outfile.h"
#include "valley/runck.h"
#include "valley/thm2_check.h"

#include "mpi.h"

static const char *const CMD = "theorem2";

typedef struct {
  valley_sgd1d_config_t cfg;
  double c;
  const char *valley, *noise, *trajectory, *grid, *out, *device, *checkpoint;
  uint64_t trajectory_steps;
  int json;
  double checkpoint_every;
} args_t;

/* The option table: the only declaration of theorem2's flags. */
#define THM2_OPTIONS(X, a)                                                                        \
  X("--eta", OPT_DOUBLE, &a.cfg.eta, "X", "learning rate eta (> 0)")                              \
  X("--a-plus", OPT_DOUBLE, &a.cfg.valley.a_plus, "X", "largest flat-side gradient a+ (> 0)")     \
  X("--a-minus", OPT_DOUBLE, &a.cfg.valley.a_minus, "X", "largest sharp-side gradient a- (< 0)")  \
  X("--c", OPT_DOUBLE, &a.c, "X", "set a- = -c a+ instead of --a-minus (c > 0)")                  \
  X("--b-plus", OPT_DOUBLE, &a.cfg.valley.b_plus, "X", "smallest flat-side gradient b+ (0 < b+ <= a+; default a+)") \
  X("--b-minus", OPT_DOUBLE, &a.cfg.valley.b_minus, "X", "smallest sharp-side gradient b- (<= a-; default a-)") \
  X("--nu", OPT_DOUBLE, &a.cfg.nu, "X", "noise bound nu, |omega| < nu (>= 0)")                     \
  X("--valley", OPT_STRING, &a.valley, "NAME", "canonical | saturating")                          \
  X("--scale", OPT_DOUBLE, &a.cfg.valley.scale, "S", "length scale of the saturating valley (> 0)") \
  X("--noise", OPT_STRING, &a.noise, "NAME", "uniform | two-point | truncated-normal")            \
  X("--sigma", OPT_DOUBLE, &a.cfg.sigma, "X", "sigma of the truncated normal (> 0; default nu)")  \
  X("--w-init", OPT_DOUBLE, &a.cfg.w_init, "X", "every chain's starting point w_0")               \
  X("--chains", OPT_SIZE, &a.cfg.chains, "N", "independent chains (>= 1)")                         \
  X("--steps", OPT_U64, &a.cfg.steps, "N", "SGD steps per chain, burn-in included (>= 1)")        \
  X("--burn-in", OPT_U64, &a.cfg.burn_in, "N", "steps before statistics start (< --steps)")       \
  X("--seed", OPT_U64, &a.cfg.seed, "N", "PCG32 seed; chain i draws from stream i")               \
  X("--threads", OPT_INT, &a.cfg.threads, "N", "OpenMP threads (0: all; results do not depend on it)") \
  X("--device", OPT_STRING, &a.device, "NAME", "cpu | cuda: where the chains run (docs/cuda.md)")  \
  X("--gpu", OPT_INT, &a.cfg.cuda_device, "N", "with --device cuda: the CUDA device's index")      \
  X("--trajectory", OPT_STRING, &a.trajectory, "FILE.csv", "write chain 0's path and running mean (Figure 5)") \
  X("--trajectory-steps", OPT_U64, &a.trajectory_steps, "N", "iterates in --trajectory (>= 1)")   \
  X("--json", OPT_FLAG, &a.json, NULL, "print the report as JSON")                               \
  X("--checkpoint", OPT_STRING, &a.checkpoint, "FILE", "save the chains in blocks as they finish, and the running block's state every --checkpoint-every seconds; an interrupted run given the same FILE resumes (docs/reliability.md)") \
  X("--checkpoint-every", OPT_DOUBLE, &a.checkpoint_every, "SECONDS", "with --checkpoint: how often the running block's state is saved (0: after every time segment)") \
  X("--grid", OPT_STRING, &a.grid, "SPEC", "sweep a grid, e.g. 'c=2,4;nu=0.5,1' (docs/sweeps.md)") \
  X("--out", OPT_STRING, &a.out, "FILE.jsonl", "with --grid: one JSON line per point (resumable)")

#define THM2_OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

static const char *const SUMMARY =
    "Theorem 2 of He, Huang, Yuan (2019), 'Asymmetric Valleys', Sec. 5.1 and Appendix D:\n"
    "averaged SGD  w_{t+1} = w_t - eta (g(w_t) + omega_t)  on a 1-D asymmetric valley is biased\n"
    "to the flat side, E[w_bar] > c0 > 0.  Prints the proof's constants (as printed, and the\n"
    "labelled 'azuma' variant of T_max that Theorem 8's Azuma step supports), each precondition,\n"
    "and a Monte Carlo of every event of the proof beside the probability the paper claims.\n"
    "Verdicts use 99.9% intervals from per-chain replicates; see docs/theorem2.md.";

static void json_constants(valley_json_t *j, const char *key, const valley_thm2_constants_t *k) {
  valley_json_object(j, key);
  valley_json_number(j, "p_min", k->p_min);
  valley_json_number(j, "p_max", k->p_max);
  valley_json_number(j, "tau_star", k->tau_star);
  valley_json_number(j, "T_min", k->T_min);
  valley_json_number(j, "T_max", k->T_max);
  valley_json_number(j, "c0", k->c0);
  valley_json_number(j, "c", k->c);
  valley_json_number(j, "c_prime", k->c_prime);
  valley_json_number(j, "L", k->L);
  valley_json_number(j, "round_bound", k->round_bound);
  valley_json_bool(j, "tau_found", k->tau_found);
  valley_json_object_end(j);
}

/* The report's fields (the --json object without its command/version/paper, and a grid
 * sweep's record). */
static void json_report(valley_json_t *jp, const valley_thm2_report_t *r) {
  valley_json_t j = *jp;
  valley_json_object(&j, "parameters");
  const valley_sgd1d_config_t *c = &r->cfg;
  valley_json_number(&j, "eta", c->eta);
  valley_json_number(&j, "a_plus", c->valley.a_plus);
  valley_json_number(&j, "a_minus", c->valley.a_minus);
  valley_json_number(&j, "b_plus", c->valley.b_plus);
  valley_json_number(&j, "b_minus", c->valley.b_minus);
  valley_json_number(&j, "nu", c->nu);
  valley_json_string(&j, "valley", valley_valley1d_kind_name(c->valley.kind));
  if (c->valley.kind == VALLEY_VALLEY1D_SATURATING) valley_json_number(&j, "scale", c->valley.scale);
  valley_json_string(&j, "noise", valley_noise_kind_name(c->noise));
  if (c->noise == VALLEY_NOISE_TRUNC_NORMAL) valley_json_number(&j, "sigma", c->sigma);
  valley_json_number(&j, "w_init", c->w_init);
  valley_json_object_end(&j);
  json_constants(&j, "constants", &r->k);
  json_constants(&j, "constants_azuma_variant", &r->k_azuma);
  valley_json_array(&j, "preconditions");
  for (int i = 0; i < VALLEY_THM2_NPRECOND; i++) {
    valley_json_object(&j, NULL);
    valley_json_string(&j, "name", r->pre[i].name);
    valley_json_string(&j, "condition", r->pre[i].text);
    valley_json_bool(&j, "holds", r->pre[i].holds);
    valley_json_number(&j, "margin", r->pre[i].margin);
    valley_json_string(&j, "detail", r->pre[i].detail);
    valley_json_object_end(&j);
  }
  valley_json_array_end(&j);
  valley_json_object(&j, "monte_carlo");
  valley_json_string(&j, "device", valley_device_name(c->device));
  valley_json_u64(&j, "chains", c->chains);
  valley_json_u64(&j, "steps", c->steps);
  valley_json_u64(&j, "burn_in", c->burn_in);
  valley_json_u64(&j, "seed", c->seed);
  valley_json_u64(&j, "rounds", r->rounds);
  valley_json_number(&j, "E_wbar", r->wbar.estimate);
  valley_json_array(&j, "E_wbar_ci");
  valley_json_number(&j, NULL, r->wbar.estimate - VALLEY_Z95 * r->wbar.stderr_);
  valley_json_number(&j, NULL, r->wbar.estimate + VALLEY_Z95 * r->wbar.stderr_);
  valley_json_array_end(&j);
  valley_json_number(&j, "E_wbar_stderr", r->wbar.stderr_);
  valley_json_number(&j, "trajectory_mean", r->traj.estimate);
  valley_json_array(&j, "trajectory_mean_ci");
  valley_json_number(&j, NULL, r->traj.estimate - VALLEY_Z95 * r->traj.stderr_);
  valley_json_number(&j, NULL, r->traj.estimate + VALLEY_Z95 * r->traj.stderr_);
  valley_json_array_end(&j);
  valley_json_object(&j, "round_length");
  valley_json_number(&j, "mean", r->round_len.estimate);
  valley_json_u64(&j, "max", r->round_len_max);
  valley_json_string(&j, "histogram_note", "histogram[k] = rounds of length k; the last bin holds lengths >= 255");
  int last = VALLEY_SGD1D_HIST - 1;
  while (last > 0 && r->hist[last] == 0) last--;
  valley_json_array(&j, "histogram");
  for (int h = 0; h <= last; h++) valley_json_u64(&j, NULL, r->hist[h]);
  valley_json_array_end(&j);
  valley_json_object_end(&j);
  valley_json_array(&j, "events");
  for (int i = 0; i < r->nevents; i++) {
    const valley_thm2_event_t *e = &r->events[i];
    valley_json_object(&j, NULL);
    valley_json_string(&j, "name", e->name);
    valley_json_string(&j, "variant", e->variant);
    valley_json_string(&j, "claim", e->claim);
    if (e->is_bound) {
      valley_json_null(&j, "claimed_probability");
      valley_json_null(&j, "observed_frequency");
      valley_json_number(&j, "statistic", e->observed);
      valley_json_number(&j, "threshold", e->threshold);
    } else {
      valley_json_number(&j, "claimed_probability", e->claimed_probability);
      valley_json_number(&j, "observed_frequency", e->observed);
      valley_json_u64(&j, "rounds", e->n);
      valley_json_u64(&j, "held", e->k);
    }
    valley_json_array(&j, "ci999");
    valley_json_number(&j, NULL, e->ci_lo);
    valley_json_number(&j, NULL, e->ci_hi);
    valley_json_array_end(&j);
    valley_json_string(&j, "verdict", valley_verdict_name(e->verdict));
    valley_json_object_end(&j);
  }
  valley_json_array_end(&j);
  valley_json_object_end(&j); /* monte_carlo */
  *jp = j;
}

static void print_json(const valley_thm2_report_t *r) {
  valley_json_t j;
  valley_json_begin(&j, stdout);
  valley_json_string(&j, "command", "theorem2");
  valley_json_string(&j, "version", VALLEY_VERSION);
  valley_json_build(&j);
  valley_json_string(&j, "paper", "He, Huang, Yuan (2019), Asymmetric Valleys, Theorem 2");
  json_report(&j, r);
  valley_json_end(&j);
}

static void print_text(const valley_thm2_report_t *r) {
  const valley_sgd1d_config_t *c = &r->cfg;
  const valley_thm2_constants_t *k = &r->k, *a = &r->k_azuma;
  printf("valley theorem2: He, Huang, Yuan (2019), Theorem 2 -- averaged SGD on a 1-D asymmetric "
         "valley\n\n");
  printf("parameters  eta=%g a+=%g a-=%g b+=%g b-=%g nu=%g valley=%s noise=%s", c->eta,
         c->valley.a_plus, c->valley.a_minus, c->valley.b_plus, c->valley.b_minus, c->nu,
         valley_valley1d_kind_name(c->valley.kind), valley_noise_kind_name(c->noise));
  if (c->valley.kind == VALLEY_VALLEY1D_SATURATING) printf(" scale=%g", c->valley.scale);
  if (c->noise == VALLEY_NOISE_TRUNC_NORMAL) printf(" sigma=%g", c->sigma);
  printf("\n            seed=%" PRIu64 " chains=%zu steps=%" PRIu64 " burn-in=%" PRIu64
         " device=%s\n\n",
         c->seed, c->chains, c->steps, c->burn_in, valley_device_name(c->device));
  printf("constants              as printed        azuma variant (docs/theorem2.md)\n");
  printf("  p_min, p_max     %.10g, %.10g\n", k->p_min, k->p_max);
  printf("  c, c'            %.10g, %.10g\n", k->c, k->c_prime);
  printf("  tau*             %-17.10g %.10g\n", k->tau_star, a->tau_star);
  printf("  T_min(tau*)      %-17.10g %.10g\n", k->T_min, a->T_min);
  printf("  T_max(tau*)      %-17.10g %.10g\n", k->T_max, a->T_max);
  printf("  c0               %-17.10g %.10g\n\n", k->c0, a->c0);
  printf("preconditions\n");
  for (int i = 0; i < VALLEY_THM2_NPRECOND; i++)
    printf("  %-6s %-28s %s\n", r->pre[i].holds ? "holds" : "FAILS", r->pre[i].text,
           r->pre[i].detail);
  printf("\nMonte Carlo (%" PRIu64 " complete rounds after burn-in)\n", r->rounds);
  printf("  E[w_bar]          %.8g  95%% CI [%.8g, %.8g]\n", r->wbar.estimate,
         r->wbar.estimate - VALLEY_Z95 * r->wbar.stderr_,
         r->wbar.estimate + VALLEY_Z95 * r->wbar.stderr_);
  printf("  trajectory mean   %.8g  95%% CI [%.8g, %.8g]  (what weight averaging returns)\n",
         r->traj.estimate, r->traj.estimate - VALLEY_Z95 * r->traj.stderr_,
         r->traj.estimate + VALLEY_Z95 * r->traj.stderr_);
  printf("  round length      mean %.6g, max %" PRIu64 "\n\n", r->round_len.estimate,
         r->round_len_max);
  printf("events of the proof (99.9%% intervals)\n");
  printf("  %-27s %-8s %-9s %-30s %s\n", "event", "variant", "claimed", "observed", "verdict");
  int fails = 0;
  for (int i = 0; i < r->nevents; i++) {
    const valley_thm2_event_t *e = &r->events[i];
    char claimed[32], observed[64];
    if (e->is_bound) {
      snprintf(claimed, sizeof claimed, "> %.4g", e->threshold);
      snprintf(observed, sizeof observed, "E[w_bar] in [%.4g, %.4g]", e->ci_lo, e->ci_hi);
    } else {
      snprintf(claimed, sizeof claimed, ">= %.4f", e->claimed_probability);
      snprintf(observed, sizeof observed, "%.6f [%.6f, %.6f]", e->observed, e->ci_lo, e->ci_hi);
    }
    printf("  %-27s %-8s %-9s %-30s %s\n", e->name, e->variant, claimed, observed,
           valley_verdict_name(e->verdict));
    fails += e->verdict == VALLEY_FAILS && strcmp(e->variant, "printed") == 0;
  }
  if (fails > 0) {
    printf("\nThe paper and valley disagree: %d claim%s of the proof as printed fail%s on these "
           "parameters:\n", fails, fails > 1 ? "s" : "", fails > 1 ? "" : "s");
    for (int i = 0; i < r->nevents; i++)
      if (r->events[i].verdict == VALLEY_FAILS && strcmp(r->events[i].variant, "printed") == 0)
        printf("  - %s\n", r->events[i].claim);
    printf("See docs/theorem2.md for why.\n");
  }
}

typedef struct {
  args_t *a;
  cli_opt_t *opts;
  size_t nopts;
} run_t;

/* Checks the options and derives a-, b+-, sigma from them: -1 to go on, else the exit status. */
static int configure(void *arg, const char *cmd) {
  run_t *c = arg;
  args_t *a = c->a;
  if (valley_valley1d_kind_parse(a->valley, &a->cfg.valley.kind) != VALLEY_OK)
    return cli_usage_error(cmd, "--valley must be canonical or saturating (got '%s')", a->valley);
  if (valley_noise_kind_parse(a->noise, &a->cfg.noise) != VALLEY_OK)
    return cli_usage_error(cmd, "--noise must be uniform, two-point or truncated-normal (got '%s')",
                           a->noise);
  if (valley_device_parse(a->device, &a->cfg.device) != VALLEY_OK)
    return cli_usage_error(cmd, "--device must be cpu or cuda (got '%s')", a->device);
  if (cli_given(c->opts, c->nopts, "--c")) {
    if (cli_given(c->opts, c->nopts, "--a-minus"))
      return cli_usage_error(cmd, "give --a-minus or --c, not both");
    if (!(a->c > 0)) return cli_usage_error(cmd, "--c must be > 0 (got %g)", a->c);
    a->cfg.valley.a_minus = -a->c * a->cfg.valley.a_plus;
  }
  if (!(a->cfg.valley.a_plus > 0))
    return cli_usage_error(cmd, "--a-plus must be > 0 (got %g)", a->cfg.valley.a_plus);
  if (!cli_given(c->opts, c->nopts, "--b-plus")) a->cfg.valley.b_plus = a->cfg.valley.a_plus;
  if (!cli_given(c->opts, c->nopts, "--b-minus")) a->cfg.valley.b_minus = a->cfg.valley.a_minus;
  if (!cli_given(c->opts, c->nopts, "--sigma")) a->cfg.sigma = a->cfg.nu;
  if (a->cfg.noise == VALLEY_NOISE_TRUNC_NORMAL && !(a->cfg.sigma > 0))
    return cli_usage_error(cmd, "--sigma must be > 0 for truncated-normal noise (got %g; it "
                                "defaults to --nu)", a->cfg.sigma);
  if (a->trajectory_steps == 0 || a->trajectory_steps > 100000000)
    return cli_usage_error(cmd, "--trajectory-steps must be in [1, 1e8] (got %" PRIu64 ")",
                           a->trajectory_steps);
  valley_error_t err;
  if (valley_sgd1d_config_check(&a->cfg, &err) != VALLEY_OK)
    return cli_usage_error(cmd, "%s", err.message);
  return -1;
}

/* One grid point of --grid: the report's fields. */
static valley_status_t sweep_point(size_t index, const char *const *values, valley_json_t *j,
                                   void *arg, valley_error_t *err) {
  (void)index;
  (void)values;
  run_t *c = arg;
  valley_thm2_report_t *rep = malloc(sizeof *rep);
  if (rep == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  c->a->cfg.progress = cli_sweep_cancel_cb; /* SIGINT stops the point at once */
  c->a->cfg.progress_arg = NULL;
  valley_status_t st = valley_thm2_check(&c->a->cfg, rep, err);
  if (st == VALLEY_OK) json_report(j, rep);
  free(rep);
  return st;
}

static const valley_sweep_param_t SWEEPABLE[] = {
    {"eta", 1}, {"nu", 1}, {"c", 1}, {"a-plus", 1}, {"a-minus", 1},
    {"noise", 0}, {"valley", 0}, {"seed", 1}};
static const char *const UNFINGERPRINTED[] = {"--threads", "--json", "--trajectory",
                                              "--trajectory-steps", "--grid", "--out", "--gpu",
                                              "--checkpoint", "--checkpoint-every"};

/* --checkpoint (cli/ckrun.c): the chains in blocks of at least 1024 (at most 64 blocks), each
 * block's per-chain records and round-length histogram saved as it ends.  Chain i's numbers do
 * not depend on the block it runs in, and the reduction sees the same per-chain records in chain
 * order, so a resumed run prints the bytes of an uninterrupted one. */
typedef struct {
  valley_thm2_report_t *rep;
  valley_sgd1d_result_t *full;
  const char *fp, *part; /* the run's fingerprint; FILE.part: the running block's state */
  double every;          /* seconds between saves of the running block's state */
  double last;           /* when it was last saved */
  size_t first, count;   /* the running block */
  valley_error_t save_err;
  int save_failed;
} thm2_ck_t;

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The running block's fingerprint: the run's and the block's chains. */
static char *block_fp(const thm2_ck_t *t) {
  size_t n = strlen(t->fp) + 64;
  char *s = malloc(n);
  if (s != NULL) snprintf(s, n, "%s block-chains %zu+%zu", t->fp, t->first, t->count);
  return s;
}

/* valley_sgd1d_config_t.snapshot: FILE.part, atomically, every `every` seconds.  A failed save
 * stops the run (the message says why). */
static int thm2_snapshot(uint64_t steps_done, const void *state, size_t bytes, void *arg) {
  thm2_ck_t *t = arg;
  if (steps_done >= t->rep->cfg.steps) return 0; /* the block is done: its record follows */
  double now = mono_s();
  if (now - t->last < t->every) return 0;
  char *fp = block_fp(t);
  valley_status_t st = fp == NULL ? VALLEY_ERROR(&t->save_err, VALLEY_ENOMEM, "out of memory")
                                  : valley_runck_save_state(t->part, fp, state, bytes, &t->save_err);
  free(fp);
  t->last = mono_s();
  if (st != VALLEY_OK) t->save_failed = 1;
  return st != VALLEY_OK;
}

static size_t thm2_record_size(void *arg, size_t count) {
  (void)arg;
  return count * sizeof(valley_sgd1d_chain_t) + VALLEY_SGD1D_HIST * sizeof(uint64_t);
}

static valley_status_t thm2_ck_block(void *arg, size_t first, size_t count, void *record,
                                     int (*progress)(double, void *), void *progress_arg,
                                     valley_error_t *err) {
  thm2_ck_t *t = arg;
  valley_sgd1d_result_t *local = valley_sgd1d_result_alloc(count);
  if (local == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate %zu chains", count);
  /* a state of this block saved by an interrupted run: go on from it */
  t->first = first;
  t->count = count;
  void *state = NULL;
  size_t state_len = 0;
  char *fp = block_fp(t);
  if (fp == NULL) {
    valley_sgd1d_result_free(local);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  }
  valley_error_t lerr;
  if (valley_runck_load_state(t->part, fp, &state, &state_len, &lerr) != VALLEY_OK) {
    /* another block's (killed between saving its record and removing this file) or damaged */
    state = NULL;
    unlink(t->part);
  } else if (state != NULL) {
    fprintf(stderr, "valley %s: resuming chains %zu..%zu part-way from %s\n", CMD, first,
            first + count - 1, t->part);
  }
  free(fp);
  valley_thm2_report_t *rep = t->rep;
  valley_sgd1d_config_t saved = rep->cfg;
  rep->cfg.progress = progress;
  rep->cfg.progress_arg = progress_arg;
  rep->cfg.snapshot = thm2_snapshot;
  rep->cfg.snapshot_arg = t;
  rep->cfg.resume = state;
  rep->cfg.resume_bytes = state_len;
  t->last = mono_s();
  t->save_failed = 0;
  valley_status_t st = valley_thm2_simulate(rep, first, local, err);
  rep->cfg = saved;
  free(state);
  if (st == VALLEY_ECANCEL && t->save_failed) *err = t->save_err, st = t->save_err.code;
  if (st == VALLEY_OK) {
    unsigned char *r = record;
    memcpy(r, local->chain, count * sizeof(valley_sgd1d_chain_t));
    memcpy(r + count * sizeof(valley_sgd1d_chain_t), local->hist, sizeof local->hist);
  }
  valley_sgd1d_result_free(local);
  return st;
}

static void thm2_ck_merge(void *arg, size_t first, size_t count, const void *record) {
  thm2_ck_t *t = arg;
  const unsigned char *r = record;
  memcpy(t->full->chain + first, r, count * sizeof(valley_sgd1d_chain_t));
  cli_ck_add_counts(t->full->hist, r + count * sizeof(valley_sgd1d_chain_t), VALLEY_SGD1D_HIST);
}

static valley_status_t run_checkpointed(const args_t *a, const cli_opt_t *opts, size_t nopts,
                                        valley_thm2_report_t *rep, valley_error_t *err) {
  valley_status_t st = valley_thm2_analyse(&a->cfg, rep, err);
  if (st != VALLEY_OK) return st;
  char *fp = cli_fingerprint(CMD, opts, nopts, UNFINGERPRINTED,
                             sizeof UNFINGERPRINTED / sizeof UNFINGERPRINTED[0]);
  size_t plen = strlen(a->checkpoint) + 6;
  char *part = malloc(plen);
  if (part != NULL) snprintf(part, plen, "%s.part", a->checkpoint);
  thm2_ck_t t;
  memset(&t, 0, sizeof t);
  t.rep = rep;
  t.full = valley_sgd1d_result_alloc(a->cfg.chains);
  t.fp = fp;
  t.part = part;
  t.every = a->checkpoint_every;
  if (fp == NULL || t.full == NULL || part == NULL) {
    free(fp);
    free(part);
    valley_sgd1d_result_free(t.full);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate %zu chains", a->cfg.chains);
  }
  valley_runck_remove_stale(part); /* what a SIGKILL in the middle of saving FILE.part left */
  cli_ck_t c = {CMD, a->checkpoint, fp, "chains", a->cfg.chains, 64, 1024, 1, thm2_record_size,
                thm2_ck_block, thm2_ck_merge, &t, a->cfg.progress, a->cfg.progress_arg};
  st = cli_ck_run(&c, err);
  if (st == VALLEY_OK) {
    t.full->samples_per_chain = a->cfg.steps - a->cfg.burn_in;
    st = valley_thm2_reduce(rep, t.full, err);
  }
  valley_sgd1d_result_free(t.full);
  if (st == VALLEY_OK) unlink(part); /* no block is running */
  free(part);
  free(fp);
  return st;
}

/* mpi: NULL, or the MPI ranks (cli/mpi.h): every rank parses and checks the same arguments
 * (only rank 0's stdout and stderr are open), runs its own chains, and only rank 0 reports. */
static int theorem2(int argc, char **argv, const cli_mpi_t *mpi) {
#ifndef VALLEY_HAVE_MPI
  (void)mpi;
#endif
  args_t a;
  memset(&a, 0, sizeof a);
  valley_sgd1d_config_default(&a.cfg);
  a.valley = "canonical";
  a.noise = "uniform";
  a.device = "cpu";
  a.trajectory_steps = 2000;
  a.checkpoint_every = 60;
  cli_opt_t opts[] = {THM2_OPTIONS(THM2_OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(CMD, SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;

  run_t run = {&a, opts, nopts};
  if (a.grid != NULL) {
    if (a.checkpoint != NULL)
      return cli_usage_error(CMD, "--checkpoint does not go with --grid (--out resumes by itself)");
    if (a.trajectory != NULL) return cli_usage_error(CMD, "--trajectory does not go with --grid");
    if (a.json) return cli_usage_error(CMD, "--json does not go with --grid (--out is JSON Lines)");
    return cli_sweep(CMD, "--grid", a.grid, a.out, SWEEPABLE, sizeof SWEEPABLE / sizeof SWEEPABLE[0],
                     opts, nopts, UNFINGERPRINTED,
                     sizeof UNFINGERPRINTED / sizeof UNFINGERPRINTED[0], configure, sweep_point,
                     &run, mpi);
  }
  if (a.out != NULL) return cli_usage_error(CMD, "--out needs --grid");
  if (!(a.checkpoint_every >= 0) || !isfinite(a.checkpoint_every))
    return cli_usage_error(CMD, "--checkpoint-every must be >= 0 seconds (got %g)",
                           a.checkpoint_every);
  if (cli_given(opts, nopts, "--checkpoint-every") && a.checkpoint == NULL)
    return cli_usage_error(CMD, "--checkpoint-every needs --checkpoint FILE");
  if ((rc = configure(&run, CMD)) >= 0) return rc;
  valley_error_t err;
  valley_outfile_t out = {NULL, NULL, NULL};
#ifdef VALLEY_HAVE_MPI
  /* only rank 0 writes files; the others follow its success or failure */
  if (mpi->rank != 0) a.trajectory = NULL;
  int opened = a.trajectory == NULL || valley_outfile_open(&out, a.trajectory, &err) == VALLEY_OK;
  if (cli_mpi_any_failed(mpi, opened))
    return mpi->rank == 0 ? cli_usage_error(CMD, "--trajectory: %s", err.message)
                          : CLI_EXIT_USAGE;
#else
  if (a.trajectory != NULL && valley_outfile_open(&out, a.trajectory, &err) != VALLEY_OK)
    return cli_usage_error(CMD, "--trajectory: %s", err.message);
#endif

  cli_progress_t prog;
  cli_progress_init(&prog, "theorem2");
  a.cfg.progress = cli_progress_cb;
  a.cfg.progress_arg = &prog;
  valley_thm2_report_t *rep = malloc(sizeof *rep);
  if (rep == NULL) {
    if (a.trajectory != NULL) valley_outfile_abort(&out);
    fprintf(stderr, "valley %s: out of memory\n", CMD);
    return CLI_EXIT_FAIL;
  }
#ifdef VALLEY_HAVE_MPI
  valley_status_t st;
  int own = 1;
  if (a.checkpoint != NULL && mpi->size > 1) {
    free(rep);
    if (a.trajectory != NULL) valley_outfile_abort(&out);
    return mpi->rank == 0 ? cli_usage_error(CMD, "--checkpoint is for one process (under mpirun "
                                                 "the ranks' chains are not saved)")
                          : CLI_EXIT_USAGE;
  }
  if (mpi->size == 1) {
    st = a.checkpoint != NULL ? run_checkpointed(&a, opts, nopts, rep, &err)
                              : valley_thm2_check(&a.cfg, rep, &err);
  } else {
    /* the constants on every rank (cheap, and the same everywhere), the chains split */
    st = valley_thm2_analyse(&a.cfg, rep, &err);
    if (cli_mpi_any_failed(mpi, st == VALLEY_OK)) {
      if (st == VALLEY_OK) st = VALLEY_ERROR(&err, VALLEY_EINVAL, "another MPI rank failed");
    } else {
      st = cli_mpi_thm2_run(mpi, rep, &own, &err);
    }
  }
  cli_progress_done(&prog);
  if (st != VALLEY_OK) {
    free(rep);
    if (a.trajectory != NULL) valley_outfile_abort(&out);
    if (mpi->rank == 0)
      cli_print_error(CMD, &err);
    else if (own)
      fprintf(mpi->err, "valley %s: MPI rank %d: %s\n", CMD, mpi->rank, err.message);
    return st == VALLEY_EINVAL ? CLI_EXIT_USAGE : st == VALLEY_ECANCEL && a.checkpoint != NULL ? cli_cancel_status() : CLI_EXIT_FAIL;
  }
  if (mpi->rank != 0) {
    free(rep);
    return CLI_EXIT_OK;
  }
#else
  valley_status_t st = a.checkpoint != NULL ? run_checkpointed(&a, opts, nopts, rep, &err)
                                            : valley_thm2_check(&a.cfg, rep, &err);
  cli_progress_done(&prog);
  if (st != VALLEY_OK) {
    free(rep);
    if (a.trajectory != NULL) valley_outfile_abort(&out);
    cli_print_error(CMD, &err);
    return st == VALLEY_EINVAL ? CLI_EXIT_USAGE : st == VALLEY_ECANCEL && a.checkpoint != NULL ? cli_cancel_status() : CLI_EXIT_FAIL;
  }
#endif
  if (a.trajectory != NULL) {
    double *w = malloc(a.trajectory_steps * sizeof *w);
    if (w == NULL) {
      free(rep);
      valley_outfile_abort(&out);
      fprintf(stderr, "valley %s: out of memory for --trajectory\n", CMD);
      return CLI_EXIT_FAIL;
    }
    char comment[256];
    snprintf(comment, sizeof comment,
             "valley theorem2 --trajectory: chain 0, seed %" PRIu64 ", eta %g, nu %g, valley %s, "
             "noise %s", a.cfg.seed, a.cfg.eta, a.cfg.nu,
             valley_valley1d_kind_name(a.cfg.valley.kind), valley_noise_kind_name(a.cfg.noise));
    st = valley_sgd1d_path(&a.cfg, w, a.trajectory_steps, &err);
    if (st == VALLEY_OK) {
      valley_plots_trajectory_write(out.f, comment, w, a.trajectory_steps);
      st = valley_outfile_commit(&out, &err);
    } else {
      valley_outfile_abort(&out);
    }
    free(w);
    if (st != VALLEY_OK) {
      free(rep);
      cli_print_error(CMD, &err);
      return CLI_EXIT_FAIL;
    }
  }
  if (a.json)
    print_json(rep);
  else
    print_text(rep);
  free(rep);
  if (a.checkpoint != NULL) {
    /* the report is out: the checkpoint's work is done */
    if (fflush(stdout) != 0) {
      fprintf(stderr, "valley %s: cannot write the report; %s is kept\n", CMD, a.checkpoint);
      return CLI_EXIT_FAIL;
    }
    unlink(a.checkpoint);
  }
  return CLI_EXIT_OK;
}

int cli_cmd_theorem2(int argc, char **argv) { return cli_mpi_main(theorem2, argc, argv); }
