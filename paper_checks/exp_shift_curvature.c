/* shift-curvature (issue 6; docs/exp_shift-curvature.md): the shift-curvature paper, Sec. 3 with
 * eq. (3), Figures 1-3, Appendix F (symmetrized quadratic fits) and Appendix G.1 / Figure 5 left.
 * Higher SGD temperature T = lr / batch gives lower train and test curvature and lower
 * shift-curvature along the line between nearby train and test minima; the test loss at the
 * train minimum is U_test + s^T C_test s / 2 (eq. 3); T alone, not lr or batch separately, sets
 * the final losses.
 *
 * An MLP 784-w-w-10 WITHOUT batch norm (the paper's networks have none), plain SGD (no momentum,
 * no weight decay, as in App. G.1's second stage).  Per seed: stage 1 trains from the
 * initialization at lr1 / batch, lr x 0.1 at half its epochs, long enough for the training loss
 * to change slowly (App. G.1: "until the training converged"); its final temperature is below
 * every T_k.  Stage 2 continues from it at constant lr for each temperature
 * T_k = lr_k / batch (App. G.1's two-stage design), giving the SGD solution theta_hat.  From
 * theta_hat, low-temperature SGD (ft_lr / ft_batch, well below every T_k) on the train set gives
 * theta_tr, and the same from theta_hat on the test set gives theta_te.  Along
 * theta_tr + r (theta_te - theta_tr), r in [-1, 3], the train and test losses are probed and
 * valley_prof_curvature gives the Appendix F fits (c per unit r; c / ||theta_te - theta_tr||^2 per
 * unit parameter distance), the shift s (in r), the shift-curvature s^2 c_test / 2, the test loss
 * at the train minimum and eq. (3)'s prediction U_test + s^2 c_test / 2.  At some temperatures a
 * second batch size alt_batch with lr = T alt_batch continues stage 2 from the same stage-1
 * model (same epochs, hence the same SDE time T n epochs) for the T-alone comparison.
 *
 * Verdict (fixed before any run), five sub-claims:
 *  (a) c_train, (b) c_test (per unit parameter distance), (c) the shift-curvature decrease with
 *      T: OLS slope b of log Q on log T over all valid (T, seed) points with its standard error;
 *      reproduced when b + 2 se < 0, not reproduced when b - 2 se > -0.1 (a decrease steeper
 *      than T^-0.1 excluded), inconclusive otherwise;
 *  (d) eq. (3): a run "holds" when |prediction - measured| <= 0.25 (measured - U_test), i.e.
 *      the shift-curvature accounts for the excess test loss at the train minimum within 25 %;
 *      a run whose fit is unavailable (a minimum at the line's edge) does not hold; reproduced
 *      when the Wilson 95 % lower bound of the fraction holding is >= 0.5, not reproduced when
 *      its upper bound is < 0.5, else inconclusive;
 *  (e) T alone: per seed, D_eq = mean over the alt temperatures of |test loss(alt batch) - test
 *      loss(batch)| at equal T, D_across = mean over consecutive alt temperatures of |test
 *      loss(T') - test loss(T)| (batch), ratio = D_eq / D_across; reproduced when mean ratio +
 *      2 se < 0.5, not reproduced when mean ratio - 2 se > 0.5, else inconclusive (always with
 *      one seed).
 * Overall: reproduced when all five are; not reproduced when any is not; inconclusive otherwise.
 *
 * Helpers kept static here that others may want: sc_grad_norm (the full-data gradient norm of a
 * model, chunked by the network's workspace) and sc_ols (slope, intercept, slope se). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments_internal.h"

#define SC_MAX_T 6
#define SC_MAX_SEEDS 8
#define SC_R_LO (-1) /* the line's r range, in units of theta_te - theta_tr */
#define SC_R_HI 3
#define SC_Z 2.0            /* standard errors in the trend and T-alone rules */
#define SC_FLAT_SLOPE (-0.1) /* a trend whose lower bound is above this is "no decrease" */
#define SC_EQ3_TOL 0.25     /* |pred - meas| <= SC_EQ3_TOL (meas - U_test) */
#define SC_ALONE_RATIO 0.5

/* seed parts */
enum { SC_INIT = 1, SC_SHUF1 = 2, SC_SHUF2 = 3, SC_SHUF_TR = 4, SC_SHUF_TE = 5, SC_SHUF_ALT = 6 };

typedef struct {
  size_t n_train, n_test, width, n_temps, n_seeds, batch, epochs1, epochs2;
  size_t ft_batch, ft_epochs, per_unit, alt_batch, n_alt;
  size_t alt_index[SC_MAX_T];
  double lr1, lr[SC_MAX_T], ft_lr;
} sc_settings_t;

static void sc_settings(int full, sc_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->batch = 32;
  s->lr1 = 0.05;
  s->alt_batch = 128;
  s->ft_batch = full ? 1000 : 250;
  s->ft_lr = full ? 0.02 : 0.01;
  if (full) {
    const double lr[5] = {0.00625, 0.0125, 0.025, 0.05, 0.1};
    s->n_train = 8000;
    s->n_test = 5000;
    s->width = 128;
    s->n_seeds = 3;
    s->epochs1 = 60;
    s->epochs2 = 20;
    s->n_temps = 5;
    memcpy(s->lr, lr, sizeof lr);
    s->ft_epochs = 40;
    s->per_unit = 20;
    s->n_alt = 2;
    s->alt_index[0] = 0;
    s->alt_index[1] = 2;
  } else {
    const double lr[3] = {0.00625, 0.025, 0.1};
    s->n_train = 1000;
    s->n_test = 1000;
    s->width = 32;
    s->n_seeds = 1;
    s->epochs1 = 6;
    s->epochs2 = 5;
    s->n_temps = 3;
    memcpy(s->lr, lr, sizeof lr);
    s->ft_epochs = 20;
    s->per_unit = 10;
    s->n_alt = 2;
    s->alt_index[0] = 0;
    s->alt_index[1] = 1;
  }
}

typedef struct {
  size_t t, seed;
  double T, lr;
  double sgd_train, sgd_train_acc, sgd_test, sgd_test_acc; /* theta_hat */
  double gn_train_hat, gn_train_tr, gn_test_hat, gn_test_te; /* gradient norms */
  double ft_train_first, ft_train_last, ft_test_first, ft_test_last; /* epoch mean losses */
  double s2_mid, s2_last; /* stage 2's epoch mean train loss at its middle and last epoch */
  double train_at_tr, test_at_tr, train_at_te, test_at_te; /* evaluated */
  double dist_tr, dist_te, unorm; /* ||theta_tr - theta_hat||, ||theta_te - theta_hat||, |u| */
  int valid;
  char reason[256];
  double l_train, l_test, shift_r, shift_dist, c_train_r, c_test_r, c_train, c_test;
  double rms_train, rms_test, window;
  size_t pts_train, pts_test;
  double U_train, U_test, test_at_train_min, shift_curv, predicted, excess, rel_err_excess,
      rel_err;
  int holds;
} sc_run_t;

typedef struct {
  size_t t, seed, batch;
  double T, lr, train_loss, train_acc, test_loss, test_acc;
} sc_batch_t;

/* on_epoch of the fine-tunings: the epochs' mean losses */
typedef struct {
  double *loss;
  size_t n;
} sc_epochs_t;

static valley_status_t sc_on_epoch(void *ctx, size_t epoch, const valley_exp_model_t *m,
                                   double mean_loss, valley_error_t *err) {
  (void)m;
  (void)err;
  sc_epochs_t *e = ctx;
  if (epoch < e->n) e->loss[epoch] = mean_loss;
  return VALLEY_OK;
}

/* ||grad of the mean cross-entropy over ds|| at theta, in chunks of the net's workspace; g and
 * acc: n_params floats / doubles of scratch. */
static valley_status_t sc_grad_norm(valley_mlp_t *net, const float *theta,
                                    const valley_dataset_t *ds, float *g, double *acc,
                                    double *norm, valley_error_t *err) {
  size_t np = net->n_params, B = net->max_batch;
  memset(acc, 0, np * sizeof *acc);
  for (size_t i = 0; i < ds->n; i += B) {
    size_t n = ds->n - i < B ? ds->n - i : B;
    valley_status_t st = valley_mlp_batch(net, theta, ds->x + i * ds->dim, ds->y + i, n,
                                          VALLEY_NET_EVAL, g, NULL, NULL, err);
    if (st != VALLEY_OK) return st;
    for (size_t k = 0; k < np; k++) acc[k] += (double)n * g[k];
  }
  double s = 0.0;
  for (size_t k = 0; k < np; k++) s += (acc[k] / (double)ds->n) * (acc[k] / (double)ds->n);
  *norm = sqrt(s);
  return VALLEY_OK;
}

static double sc_dist(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return sqrt(s);
}

/* OLS y = a + b x: slope b, its standard error (NaN for n < 3), intercept a. */
static void sc_ols(const double *x, const double *y, size_t n, double *b, double *se,
                   double *a) {
  *b = *se = *a = NAN;
  if (n < 2) return;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; i++) mx += x[i], my += y[i];
  mx /= (double)n;
  my /= (double)n;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; i++) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
  if (!(sxx > 0)) return;
  *b = sxy / sxx;
  *a = my - *b * mx;
  if (n < 3) return;
  double ss = 0;
  for (size_t i = 0; i < n; i++) {
    double e = y[i] - *a - *b * x[i];
    ss += e * e;
  }
  *se = sqrt(ss / (double)(n - 2) / sxx);
}

static valley_status_t sc_eval(valley_exp_model_t *m, const valley_dataset_t *ds, double *loss,
                               double *acc, valley_error_t *err) {
  return valley_mlp_evaluate(m->net, m->theta, ds, m->net->max_batch, loss, acc, err);
}

/* The quantities of the trends, by name and accessor (NaN when not valid). */
#define SC_N_Q 8
static const char *const sc_q_names[SC_N_Q] = {"c_train",       "c_test",  "shift_curvature",
                                               "shift_norm",    "U_train", "U_test",
                                               "test_at_train_min", "sgd_test_loss"};
static double sc_q(const sc_run_t *u, size_t q) {
  if (q == 7) return u->sgd_test;
  if (!u->valid) return NAN;
  switch (q) {
  case 0: return u->c_train;
  case 1: return u->c_test;
  case 2: return u->shift_curv;
  case 3: return u->shift_dist;
  case 4: return u->U_train;
  case 5: return u->U_test;
  default: return u->test_at_train_min;
  }
}

static valley_exp_verdict_t sc_trend_verdict(double b, double se) {
  if (isnan(b) || isnan(se)) return VALLEY_EXP_INCONCLUSIVE;
  if (b + SC_Z * se < 0) return VALLEY_EXP_REPRODUCED;
  if (b - SC_Z * se > SC_FLAT_SLOPE) return VALLEY_EXP_NOT_REPRODUCED;
  return VALLEY_EXP_INCONCLUSIVE;
}

/* One (T, seed): stage 2 from m1, the two fine-tunings, the line and its fits. */
static valley_status_t sc_one(valley_exp_run_t *r, const sc_settings_t *s,
                              const valley_exp_train_t *base, const valley_exp_model_t *m1,
                              size_t t, size_t seed, const valley_dataset_t *train,
                              const valley_dataset_t *test, sc_run_t *u, double *losses,
                              valley_prof_t *line, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_exp_model_t hat = {0}, mtr = {0}, mte = {0};
  float *dir = NULL, *g = NULL;
  double *acc = NULL, *grid = NULL;
  valley_status_t st;
  memset(u, 0, sizeof *u);
  u->t = t;
  u->seed = seed;
  u->lr = s->lr[t];
  u->T = s->lr[t] / (double)s->batch;

  valley_exp_train_t spec = *base;
  spec.start = m1;
  spec.sgd.lr = s->lr[t];
  spec.sgd.batch = s->batch;
  spec.epochs = s->epochs2;
  spec.sgd.seed = valley_exp_seed(cfg->seed, SC_SHUF2, seed, t);
  sc_epochs_t ep_s2 = {losses, s->epochs2};
  spec.on_epoch = sc_on_epoch;
  spec.epoch_ctx = &ep_s2;
  valley_exp_progress(r, "shift-curvature: seed %zu, T = %.3g (lr %.4g, batch %zu)", seed, u->T,
                      u->lr, s->batch);
  if ((st = valley_exp_train(r, &spec, train, &hat, NULL, err)) != VALLEY_OK) goto done;
  if ((st = sc_eval(&hat, train, &u->sgd_train, &u->sgd_train_acc, err)) != VALLEY_OK ||
      (st = sc_eval(&hat, test, &u->sgd_test, &u->sgd_test_acc, err)) != VALLEY_OK)
    goto done;

  u->s2_mid = losses[(s->epochs2 - 1) / 2];
  u->s2_last = losses[s->epochs2 - 1];
  double *ft_losses = losses + s->epochs2;
  sc_epochs_t ep_tr = {ft_losses, s->ft_epochs}, ep_te = {ft_losses + s->ft_epochs, s->ft_epochs};
  valley_exp_train_t ft = *base;
  ft.start = &hat;
  ft.sgd.lr = s->ft_lr;
  ft.sgd.batch = s->ft_batch;
  ft.epochs = s->ft_epochs;
  ft.on_epoch = sc_on_epoch;
  ft.epoch_ctx = &ep_tr;
  ft.sgd.seed = valley_exp_seed(cfg->seed, SC_SHUF_TR, seed, t);
  if ((st = valley_exp_train(r, &ft, train, &mtr, NULL, err)) != VALLEY_OK) goto done;
  ft.epoch_ctx = &ep_te;
  ft.sgd.seed = valley_exp_seed(cfg->seed, SC_SHUF_TE, seed, t);
  if ((st = valley_exp_train(r, &ft, test, &mte, NULL, err)) != VALLEY_OK) goto done;
  u->ft_train_first = ft_losses[0];
  u->ft_train_last = ft_losses[s->ft_epochs - 1];
  u->ft_test_first = ft_losses[s->ft_epochs];
  u->ft_test_last = ft_losses[2 * s->ft_epochs - 1];

  size_t np = hat.net->n_params;
  dir = malloc(np * sizeof *dir);
  g = malloc(np * sizeof *g);
  acc = malloc(np * sizeof *acc);
  size_t G = (size_t)(SC_R_HI - SC_R_LO) * s->per_unit + 1;
  grid = malloc(G * sizeof *grid);
  if (dir == NULL || g == NULL || acc == NULL || grid == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "shift-curvature: buffers of %zu parameters", np);
    goto done;
  }
  double a1, a2;
  if ((st = sc_eval(&mtr, train, &u->train_at_tr, &a1, err)) != VALLEY_OK ||
      (st = sc_eval(&mtr, test, &u->test_at_tr, &a2, err)) != VALLEY_OK ||
      (st = sc_eval(&mte, train, &u->train_at_te, &a1, err)) != VALLEY_OK ||
      (st = sc_eval(&mte, test, &u->test_at_te, &a2, err)) != VALLEY_OK)
    goto done;
  if ((st = sc_grad_norm(hat.net, hat.theta, train, g, acc, &u->gn_train_hat, err)) != VALLEY_OK ||
      (st = sc_grad_norm(mtr.net, mtr.theta, train, g, acc, &u->gn_train_tr, err)) != VALLEY_OK ||
      (st = sc_grad_norm(hat.net, hat.theta, test, g, acc, &u->gn_test_hat, err)) != VALLEY_OK ||
      (st = sc_grad_norm(mte.net, mte.theta, test, g, acc, &u->gn_test_te, err)) != VALLEY_OK)
    goto done;
  u->dist_tr = sc_dist(mtr.theta, hat.theta, np);
  u->dist_te = sc_dist(mte.theta, hat.theta, np);

  valley_direction_line(np, mtr.theta, mte.theta, dir);
  u->unorm = valley_exp_norm(dir, np);
  for (size_t k = 0; k < G; k++)
    grid[k] = ((double)k + (double)SC_R_LO * (double)s->per_unit) / (double)s->per_unit;
  const float *dp = dir;
  if ((st = valley_exp_probe(r, &mtr, 1, &dp, G, grid, train, test, line, err)) != VALLEY_OK)
    goto done;
  valley_prof_curv_config_t cc = {0};
  valley_prof_curv_t cv;
  valley_error_t e2;
  valley_status_t cs = valley_prof_curvature(line, &cc, &cv, &e2);
  if (cs == VALLEY_EDOM) {
    u->valid = 0;
    memcpy(u->reason, e2.message, sizeof u->reason);
    u->reason[sizeof u->reason - 1] = 0;
  } else if (cs != VALLEY_OK) {
    *err = e2;
    st = cs;
    goto done;
  } else {
    u->valid = 1;
    double n2 = u->unorm * u->unorm;
    u->l_train = cv.train.l_min;
    u->l_test = cv.test.l_min;
    u->shift_r = cv.shift;
    u->shift_dist = fabs(cv.shift) * u->unorm;
    u->c_train_r = cv.train.c;
    u->c_test_r = cv.test.c;
    u->c_train = cv.train.c / n2;
    u->c_test = cv.test.c / n2;
    u->rms_train = cv.train.rms;
    u->rms_test = cv.test.rms;
    u->pts_train = cv.train.points;
    u->pts_test = cv.test.points;
    u->window = cv.config.window;
    u->U_train = cv.train.y_min;
    u->U_test = cv.test.y_min;
    u->test_at_train_min = cv.test_at_train_min;
    u->shift_curv = cv.shift_curvature;
    u->predicted = cv.test_predicted;
    u->excess = u->test_at_train_min - u->U_test;
    u->rel_err_excess = fabs(u->predicted - u->test_at_train_min) / u->excess;
    u->rel_err = fabs(u->predicted - u->test_at_train_min) / u->test_at_train_min;
    u->holds = u->excess > 0 && u->rel_err_excess <= SC_EQ3_TOL;
  }
  valley_exp_progress(r, "shift-curvature: T = %.3g seed %zu: sgd train %.4f test %.4f; |u| %.4g, "
                         "c_train %.4g c_test %.4g, shift-curv %.4g%s",
                      u->T, seed, u->sgd_train, u->sgd_test, u->unorm, u->c_train, u->c_test,
                      u->shift_curv, u->valid ? "" : " (fit unavailable)");
done:
  valley_exp_model_free(&hat);
  valley_exp_model_free(&mtr);
  valley_exp_model_free(&mte);
  free(dir);
  free(g);
  free(acc);
  free(grid);
  return st;
}

static void sc_json_trend(valley_json_t *j, const char *key, double b, double se, double a,
                          size_t n, int voted, valley_exp_verdict_t v) {
  valley_json_object(j, key);
  valley_json_u64(j, "n", n);
  valley_json_number(j, "slope", b);
  valley_json_number(j, "slope_se", se);
  valley_json_number(j, "intercept", a);
  if (voted) valley_json_string(j, "verdict", valley_exp_verdict_name(v));
  valley_json_object_end(j);
}

valley_status_t valley_exp_run_shift_curvature(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  sc_settings_t s;
  sc_settings(cfg->full, &s);
  const size_t NT = s.n_temps, NS = s.n_seeds, NR = NT * NS, NB = s.n_alt * NS;
  const size_t NE = s.epochs2 + 2 * s.ft_epochs; /* epoch losses per run */
  const size_t G = (size_t)(SC_R_HI - SC_R_LO) * s.per_unit + 1;
  valley_dataset_t train, test;
  valley_exp_model_t m1 = {0};
  sc_run_t *runs = NULL;
  sc_batch_t *alt = NULL;
  double *ft = NULL, *x = NULL, *y = NULL, *s1loss = NULL, *s1eval = NULL;
  valley_prof_t *lines = NULL;
  FILE *fline = NULL, *fruns = NULL, *ftemp = NULL, *fbatch = NULL, *fft = NULL;

  if (NT > SC_MAX_T || NS > SC_MAX_SEEDS || s.n_alt < 2 || s.n_alt > NT)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "shift-curvature: %zu temperatures (max %d), %zu "
                        "seeds (max %d), %zu alt temperatures (2 .. temperatures)", NT, SC_MAX_T,
                        NS, SC_MAX_SEEDS, s.n_alt);
  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  runs = calloc(NR, sizeof *runs);
  alt = calloc(NB, sizeof *alt);
  ft = calloc(NR * NE, sizeof *ft);
  x = calloc(NR, sizeof *x);
  y = calloc(NR, sizeof *y);
  lines = calloc(NR, sizeof *lines);
  s1loss = calloc(NS * s.epochs1, sizeof *s1loss);
  s1eval = calloc(NS * 2, sizeof *s1eval);
  if (runs == NULL || alt == NULL || ft == NULL || x == NULL || y == NULL || lines == NULL ||
      s1loss == NULL || s1eval == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "shift-curvature: %zu runs", NR);
    goto done;
  }
  if ((st = valley_exp_csv(r, "lines", &fline, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "runs", &fruns, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "temperature", &ftemp, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "batch", &fbatch, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "epochs", &fft, err)) != VALLEY_OK)
    goto done;

  valley_json_object(j, "settings");
  valley_json_string(j, "network", "mlp, no batch norm");
  double w[4] = {784, (double)s.width, (double)s.width, 10};
  valley_json_numbers(j, "widths", w, 4);
  valley_json_u64(j, "n_train", s.n_train);
  valley_json_u64(j, "n_test", s.n_test);
  valley_json_u64(j, "seeds", NS);
  valley_json_u64(j, "batch", s.batch);
  valley_json_number(j, "momentum", 0.0);
  valley_json_number(j, "weight_decay", 0.0);
  valley_json_number(j, "stage1_lr", s.lr1);
  valley_json_u64(j, "stage1_epochs", s.epochs1);
  valley_json_u64(j, "stage2_epochs", s.epochs2);
  valley_json_numbers(j, "lr", s.lr, NT);
  double Ts[SC_MAX_T];
  for (size_t t = 0; t < NT; t++) Ts[t] = s.lr[t] / (double)s.batch;
  valley_json_numbers(j, "temperatures", Ts, NT);
  valley_json_u64(j, "finetune_batch", s.ft_batch);
  valley_json_number(j, "finetune_lr", s.ft_lr);
  valley_json_number(j, "finetune_temperature", s.ft_lr / (double)s.ft_batch);
  valley_json_u64(j, "finetune_epochs", s.ft_epochs);
  valley_json_number(j, "r_min", SC_R_LO);
  valley_json_number(j, "r_max", SC_R_HI);
  valley_json_u64(j, "line_points", G);
  valley_json_u64(j, "alt_batch", s.alt_batch);
  double ai[SC_MAX_T];
  for (size_t k = 0; k < s.n_alt; k++) ai[k] = (double)s.alt_index[k];
  valley_json_numbers(j, "alt_temperature_index", ai, s.n_alt);
  valley_json_number(j, "trend_z", SC_Z);
  valley_json_number(j, "trend_flat_slope", SC_FLAT_SLOPE);
  valley_json_number(j, "eq3_tolerance", SC_EQ3_TOL);
  valley_json_number(j, "t_alone_ratio", SC_ALONE_RATIO);
  valley_json_string(j, "curvature_fit", "valley_prof_curvature defaults: the paper's branches "
                                         "(side -sign(s)), window the largest common extent");
  valley_json_object_end(j);

  valley_exp_train_t base;
  const size_t widths[4] = {784, s.width, s.width, 10};
  valley_exp_spec_bn_mlp(&base, widths, s.batch, s.lr1, s.epochs1, 0, 0);
  base.arch.batch_norm = 0;
  base.sgd.momentum = 0.0;
  base.sgd.weight_decay = 0.0;

  for (size_t seed = 0; seed < NS && st == VALLEY_OK; seed++) {
    valley_exp_train_t s1 = base;
    s1.init_seed = valley_exp_seed(cfg->seed, SC_INIT, seed, 0);
    s1.sgd.seed = valley_exp_seed(cfg->seed, SC_SHUF1, seed, 0);
    s1.sgd.schedule = VALLEY_LR_STEP;
    s1.sgd.step_every = (s.epochs1 + 1) / 2;
    s1.sgd.step_gamma = 0.1;
    valley_exp_progress(r, "shift-curvature: seed %zu, stage 1 (lr %.4g, batch %zu)", seed, s.lr1,
                        s.batch);
    sc_epochs_t ep1 = {s1loss + seed * s.epochs1, s.epochs1};
    s1.on_epoch = sc_on_epoch;
    s1.epoch_ctx = &ep1;
    double acc1;
    if ((st = valley_exp_train(r, &s1, &train, &m1, NULL, err)) != VALLEY_OK ||
        (st = sc_eval(&m1, &train, &s1eval[2 * seed], &acc1, err)) != VALLEY_OK ||
        (st = sc_eval(&m1, &test, &s1eval[2 * seed + 1], &acc1, err)) != VALLEY_OK)
      break;
    for (size_t t = 0; t < NT && st == VALLEY_OK; t++) {
      size_t i = seed * NT + t;
      st = sc_one(r, &s, &base, &m1, t, seed, &train, &test, &runs[i],
                  ft + i * NE, &lines[i], err);
    }
    for (size_t k = 0; k < s.n_alt && st == VALLEY_OK; k++) {
      size_t t = s.alt_index[k];
      sc_batch_t *b = &alt[seed * s.n_alt + k];
      b->t = t;
      b->seed = seed;
      b->batch = s.alt_batch;
      b->T = s.lr[t] / (double)s.batch;
      b->lr = b->T * (double)s.alt_batch;
      valley_exp_train_t s2 = base;
      s2.start = &m1;
      s2.sgd.lr = b->lr;
      s2.sgd.batch = s.alt_batch;
      s2.epochs = s.epochs2;
      s2.sgd.seed = valley_exp_seed(cfg->seed, SC_SHUF_ALT, seed, t);
      valley_exp_model_t m2 = {0};
      valley_exp_progress(r, "shift-curvature: seed %zu, T = %.3g with batch %zu (lr %.4g)", seed,
                          b->T, s.alt_batch, b->lr);
      if ((st = valley_exp_train(r, &s2, &train, &m2, NULL, err)) == VALLEY_OK &&
          (st = sc_eval(&m2, &train, &b->train_loss, &b->train_acc, err)) == VALLEY_OK)
        st = sc_eval(&m2, &test, &b->test_loss, &b->test_acc, err);
      valley_exp_model_free(&m2);
    }
    valley_exp_model_free(&m1);
  }
  if (st != VALLEY_OK) goto done;

  /* ---- CSVs ---- */
  fprintf(fline, "# shift-curvature: train and test loss along theta_tr + r (theta_te - "
                 "theta_tr) (Figure 1); r = 0 the train minimum, r = 1 the test minimum\n"
                 "run,T,seed,r,train_loss,test_loss,train_acc,test_acc\n");
  for (size_t i = 0; i < NR; i++)
    for (size_t g = 0; g < lines[i].n; g++)
      fprintf(fline, "%zu,%.17g,%zu,%.17g,%.17g,%.17g,%.9g,%.9g\n", i, runs[i].T, runs[i].seed,
              lines[i].l[g], lines[i].train[g], lines[i].test[g], lines[i].train_acc[g],
              lines[i].test_acc[g]);
  fprintf(fft, "# shift-curvature: epoch mean train loss of stage 2 and epoch mean losses of "
               "the fine-tunings on the train and the test set (stationarity, convergence)\n"
               "run,T,seed,phase,epoch,mean_loss\n");
  for (size_t i = 0; i < NR; i++)
    for (size_t e = 0; e < NE; e++) {
      const char *ph = e < s.epochs2 ? "stage2" : e < s.epochs2 + s.ft_epochs ? "finetune_train"
                                                                              : "finetune_test";
      size_t ee = e < s.epochs2 ? e : e < s.epochs2 + s.ft_epochs ? e - s.epochs2
                                                                  : e - s.epochs2 - s.ft_epochs;
      fprintf(fft, "%zu,%.17g,%zu,%s,%zu,%.17g\n", i, runs[i].T, runs[i].seed, ph, ee + 1,
              ft[i * NE + e]);
    }
  fprintf(fruns, "# shift-curvature: one row per (T, seed) (Figures 2-3); c per unit parameter "
                 "distance = c_r / unorm^2\n"
                 "run,T,seed,lr,sgd_train_loss,sgd_test_loss,sgd_train_acc,sgd_test_acc,"
                 "gn_train_hat,gn_train_tr,gn_test_hat,gn_test_te,dist_tr,dist_te,unorm,valid,"
                 "l_train,l_test,shift_r,shift_norm,c_train_r,c_test_r,c_train,c_test,window,"
                 "U_train,U_test,test_at_train_min,shift_curvature,predicted,rel_err_excess,"
                 "holds\n");
  for (size_t i = 0; i < NR; i++) {
    const sc_run_t *u = &runs[i];
    fprintf(fruns,
            "%zu,%.17g,%zu,%.17g,%.17g,%.17g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.17g,%d,"
            "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,"
            "%.17g,%.17g,%d\n",
            i, u->T, u->seed, u->lr, u->sgd_train, u->sgd_test, u->sgd_train_acc, u->sgd_test_acc,
            u->gn_train_hat, u->gn_train_tr, u->gn_test_hat, u->gn_test_te, u->dist_tr,
            u->dist_te, u->unorm, u->valid, u->valid ? u->l_train : NAN,
            u->valid ? u->l_test : NAN, u->valid ? u->shift_r : NAN,
            u->valid ? u->shift_dist : NAN, u->valid ? u->c_train_r : NAN,
            u->valid ? u->c_test_r : NAN, u->valid ? u->c_train : NAN, u->valid ? u->c_test : NAN,
            u->valid ? u->window : NAN, u->valid ? u->U_train : NAN, u->valid ? u->U_test : NAN,
            u->valid ? u->test_at_train_min : NAN, u->valid ? u->shift_curv : NAN,
            u->valid ? u->predicted : NAN, u->valid ? u->rel_err_excess : NAN, u->holds);
  }
  fprintf(fbatch, "# shift-curvature: stage-2 SGD solutions at equal T with two batch sizes "
                  "(Figure 5 left)\nT,seed,batch,lr,train_loss,test_loss,train_acc,test_acc\n");
  for (size_t seed = 0; seed < NS; seed++)
    for (size_t k = 0; k < s.n_alt; k++) {
      const sc_run_t *u = &runs[seed * NT + s.alt_index[k]];
      const sc_batch_t *b = &alt[seed * s.n_alt + k];
      fprintf(fbatch, "%.17g,%zu,%zu,%.17g,%.17g,%.17g,%.9g,%.9g\n", u->T, seed, s.batch, u->lr,
              u->sgd_train, u->sgd_test, u->sgd_train_acc, u->sgd_test_acc);
      fprintf(fbatch, "%.17g,%zu,%zu,%.17g,%.17g,%.17g,%.9g,%.9g\n", b->T, seed, b->batch, b->lr,
              b->train_loss, b->test_loss, b->train_acc, b->test_acc);
    }

  /* ---- per run (JSON) ---- */
  valley_json_array(j, "stage1");
  for (size_t seed = 0; seed < NS; seed++) {
    valley_json_object(j, NULL);
    valley_json_u64(j, "seed", seed);
    valley_json_numbers(j, "epoch_mean_loss", s1loss + seed * s.epochs1, s.epochs1);
    valley_json_number(j, "train_loss", s1eval[2 * seed]);
    valley_json_number(j, "test_loss", s1eval[2 * seed + 1]);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  valley_json_array(j, "runs");
  for (size_t i = 0; i < NR; i++) {
    const sc_run_t *u = &runs[i];
    valley_json_object(j, NULL);
    valley_json_number(j, "T", u->T);
    valley_json_u64(j, "seed", u->seed);
    valley_json_number(j, "lr", u->lr);
    valley_json_number(j, "sgd_train_loss", u->sgd_train);
    valley_json_number(j, "sgd_test_loss", u->sgd_test);
    valley_json_number(j, "sgd_test_acc", u->sgd_test_acc);
    valley_json_number(j, "stage2_loss_mid_epoch", u->s2_mid);
    valley_json_number(j, "stage2_loss_last_epoch", u->s2_last);
    valley_json_number(j, "finetune_train_loss_first_epoch", u->ft_train_first);
    valley_json_number(j, "finetune_train_loss_last_epoch", u->ft_train_last);
    valley_json_number(j, "finetune_test_loss_first_epoch", u->ft_test_first);
    valley_json_number(j, "finetune_test_loss_last_epoch", u->ft_test_last);
    valley_json_number(j, "grad_norm_train_at_sgd", u->gn_train_hat);
    valley_json_number(j, "grad_norm_train_at_train_min", u->gn_train_tr);
    valley_json_number(j, "grad_norm_test_at_sgd", u->gn_test_hat);
    valley_json_number(j, "grad_norm_test_at_test_min", u->gn_test_te);
    valley_json_number(j, "train_loss_at_train_min", u->train_at_tr);
    valley_json_number(j, "test_loss_at_test_min", u->test_at_te);
    valley_json_number(j, "dist_train_min_from_sgd", u->dist_tr);
    valley_json_number(j, "dist_test_min_from_sgd", u->dist_te);
    valley_json_number(j, "line_norm", u->unorm);
    valley_json_bool(j, "valid", u->valid);
    if (!u->valid) {
      valley_json_string(j, "reason", u->reason);
    } else {
      valley_json_number(j, "l_train_min", u->l_train);
      valley_json_number(j, "l_test_min", u->l_test);
      valley_json_number(j, "shift_r", u->shift_r);
      valley_json_number(j, "shift_norm", u->shift_dist);
      valley_json_number(j, "c_train_per_r", u->c_train_r);
      valley_json_number(j, "c_test_per_r", u->c_test_r);
      valley_json_number(j, "c_train", u->c_train);
      valley_json_number(j, "c_test", u->c_test);
      valley_json_number(j, "fit_window", u->window);
      valley_json_number(j, "rms_train", u->rms_train);
      valley_json_number(j, "rms_test", u->rms_test);
      valley_json_u64(j, "points_train", u->pts_train);
      valley_json_u64(j, "points_test", u->pts_test);
      valley_json_number(j, "U_train", u->U_train);
      valley_json_number(j, "U_test", u->U_test);
      valley_json_number(j, "test_at_train_min", u->test_at_train_min);
      valley_json_number(j, "shift_curvature", u->shift_curv);
      valley_json_number(j, "predicted", u->predicted);
      valley_json_number(j, "rel_err_excess", u->rel_err_excess);
      valley_json_number(j, "rel_err", u->rel_err);
    }
    valley_json_bool(j, "eq3_holds", u->holds);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);

  /* ---- per temperature, and the trends ---- */
  fprintf(ftemp, "# shift-curvature: per temperature, mean and standard error over the seeds "
                 "with a valid fit (sgd_test_loss over all seeds)\nT,quantity,n,mean,se\n");
  valley_json_array(j, "per_temperature");
  for (size_t t = 0; t < NT; t++) {
    valley_json_object(j, NULL);
    valley_json_number(j, "T", Ts[t]);
    for (size_t q = 0; q < SC_N_Q; q++) {
      size_t n = 0;
      double v[SC_MAX_SEEDS], mean = NAN, se = NAN;
      for (size_t seed = 0; seed < NS; seed++) {
        double z = sc_q(&runs[seed * NT + t], q);
        if (!isnan(z)) v[n++] = z;
      }
      if (n > 0) valley_exp_mean_se(v, n, &mean, &se, NULL);
      fprintf(ftemp, "%.17g,%s,%zu,%.17g,%.17g\n", Ts[t], sc_q_names[q], n, mean, se);
      char key[64];
      snprintf(key, sizeof key, "%s_mean", sc_q_names[q]);
      valley_json_number(j, key, mean);
      snprintf(key, sizeof key, "%s_se", sc_q_names[q]);
      valley_json_number(j, key, se);
    }
    valley_json_object_end(j);
  }
  valley_json_array_end(j);

  valley_exp_verdict_t sub[5];
  double slope[SC_N_Q], slope_se[SC_N_Q];
  valley_json_object(j, "trends_log_log");
  for (size_t q = 0; q < SC_N_Q; q++) {
    size_t n = 0;
    for (size_t i = 0; i < NR; i++) {
      double z = sc_q(&runs[i], q);
      if (!isnan(z) && z > 0) {
        x[n] = log(runs[i].T);
        y[n] = log(z);
        n++;
      }
    }
    double a;
    sc_ols(x, y, n, &slope[q], &slope_se[q], &a);
    valley_exp_verdict_t v = sc_trend_verdict(slope[q], slope_se[q]);
    if (q < 3) sub[q] = v;
    sc_json_trend(j, sc_q_names[q], slope[q], slope_se[q], a, n, q < 3, v);
  }
  valley_json_object_end(j);

  /* eq. (3) */
  size_t n_valid = 0, n_holds = 0;
  double rel[SC_MAX_T * SC_MAX_SEEDS];
  size_t n_rel = 0;
  for (size_t i = 0; i < NR; i++) {
    n_valid += (size_t)runs[i].valid;
    n_holds += (size_t)runs[i].holds;
    if (runs[i].valid) rel[n_rel++] = runs[i].rel_err_excess;
  }
  double elo, ehi;
  valley_exp_wilson(n_holds, NR, 1.96, &elo, &ehi);
  sub[3] = elo >= 0.5 ? VALLEY_EXP_REPRODUCED : ehi < 0.5 ? VALLEY_EXP_NOT_REPRODUCED
                                                           : VALLEY_EXP_INCONCLUSIVE;
  double rel_med = NAN;
  if (n_rel > 0) {
    qsort(rel, n_rel, sizeof *rel, valley_exp_cmp_double);
    rel_med = n_rel % 2 ? rel[n_rel / 2] : 0.5 * (rel[n_rel / 2 - 1] + rel[n_rel / 2]);
  }
  valley_json_object(j, "eq3");
  valley_json_u64(j, "n_runs", NR);
  valley_json_u64(j, "n_valid", n_valid);
  valley_json_u64(j, "n_holds", n_holds);
  valley_json_number(j, "fraction", (double)n_holds / (double)NR);
  valley_json_number(j, "wilson_lo", elo);
  valley_json_number(j, "wilson_hi", ehi);
  valley_json_number(j, "rel_err_excess_median", rel_med);
  valley_json_string(j, "verdict", valley_exp_verdict_name(sub[3]));
  valley_json_object_end(j);

  /* T alone */
  double ratio[SC_MAX_SEEDS], deq[SC_MAX_SEEDS], dac[SC_MAX_SEEDS];
  double rtr[SC_MAX_SEEDS];
  for (size_t seed = 0; seed < NS; seed++) {
    double se_ = 0, sa = 0, te_ = 0, ta = 0;
    for (size_t k = 0; k < s.n_alt; k++) {
      const sc_run_t *u = &runs[seed * NT + s.alt_index[k]];
      const sc_batch_t *b = &alt[seed * s.n_alt + k];
      se_ += fabs(b->test_loss - u->sgd_test);
      te_ += fabs(b->train_loss - u->sgd_train);
      if (k + 1 < s.n_alt) {
        const sc_run_t *w2 = &runs[seed * NT + s.alt_index[k + 1]];
        sa += fabs(w2->sgd_test - u->sgd_test);
        ta += fabs(w2->sgd_train - u->sgd_train);
      }
    }
    deq[seed] = se_ / (double)s.n_alt;
    dac[seed] = sa / (double)(s.n_alt - 1);
    ratio[seed] = deq[seed] / dac[seed];
    rtr[seed] = (te_ / (double)s.n_alt) / (ta / (double)(s.n_alt - 1));
  }
  double rm, rse, trm, trse;
  valley_exp_mean_se(ratio, NS, &rm, &rse, NULL);
  valley_exp_mean_se(rtr, NS, &trm, &trse, NULL);
  sub[4] = isnan(rse)                              ? VALLEY_EXP_INCONCLUSIVE
           : rm + SC_Z * rse < SC_ALONE_RATIO ? VALLEY_EXP_REPRODUCED
           : rm - SC_Z * rse > SC_ALONE_RATIO ? VALLEY_EXP_NOT_REPRODUCED
                                              : VALLEY_EXP_INCONCLUSIVE;
  valley_json_object(j, "t_alone");
  valley_json_numbers(j, "d_equal_T_test", deq, NS);
  valley_json_numbers(j, "d_across_T_test", dac, NS);
  valley_json_numbers(j, "ratio_test", ratio, NS);
  valley_json_number(j, "ratio_test_mean", rm);
  valley_json_number(j, "ratio_test_se", rse);
  valley_json_numbers(j, "ratio_train", rtr, NS);
  valley_json_number(j, "ratio_train_mean", trm);
  valley_json_number(j, "ratio_train_se", trse);
  valley_json_string(j, "verdict", valley_exp_verdict_name(sub[4]));
  valley_json_object_end(j);

  static const char *const sub_names[5] = {"c_train_decreases", "c_test_decreases",
                                           "shift_curvature_decreases", "eq3", "t_alone"};
  int any_not = 0, all_rep = 1;
  valley_json_object(j, "sub_verdicts");
  for (size_t k = 0; k < 5; k++) {
    valley_json_string(j, sub_names[k], valley_exp_verdict_name(sub[k]));
    any_not |= sub[k] == VALLEY_EXP_NOT_REPRODUCED;
    all_rep &= sub[k] == VALLEY_EXP_REPRODUCED;
  }
  valley_json_object_end(j);
  valley_json_string(
      j, "verdict_rule",
      "(a) c_train, (b) c_test, (c) shift-curvature decrease with T: OLS slope b of log Q on log T "
      "over valid (T, seed) runs; reproduced if b + 2 se < 0, not reproduced if b - 2 se > -0.1, "
      "else inconclusive; (d) eq. 3: a run holds when |U_test + s^2 c_test/2 - L_test(theta_tr)| "
      "<= 0.25 (L_test(theta_tr) - U_test) (an unavailable fit does not hold); reproduced if the "
      "Wilson 95% lower bound of the fraction holding >= 0.5, not reproduced if its upper bound "
      "< 0.5; (e) T alone: per seed ratio = mean |test loss(alt batch) - test loss(batch)| at "
      "equal T / mean |test loss(T') - test loss(T)| over consecutive alt temperatures; "
      "reproduced if mean + 2 se < 0.5, not reproduced if mean - 2 se > 0.5, else inconclusive; "
      "overall: reproduced if all five are, not reproduced if any is not, else inconclusive");
  valley_exp_verdict_t v = all_rep   ? VALLEY_EXP_REPRODUCED
                           : any_not ? VALLEY_EXP_NOT_REPRODUCED
                                     : VALLEY_EXP_INCONCLUSIVE;
  valley_exp_verdict(
      r, v,
      "MLP without BN, %zu T x %zu seeds: log-log slopes c_train %.2f +- %.2f (%s), c_test "
      "%.2f +- %.2f (%s), shift-curv %.2f +- %.2f (%s); eq. 3 within 25%% of the excess in "
      "%zu/%zu (Wilson [%.2f, %.2f], %s); T alone: equal-T / across-T test-loss difference "
      "%.2f +- %.2f (%s)",
      NT, NS, slope[0], slope_se[0], valley_exp_verdict_name(sub[0]), slope[1], slope_se[1], valley_exp_verdict_name(sub[1]), slope[2],
      slope_se[2], valley_exp_verdict_name(sub[2]), n_holds, NR, elo, ehi, valley_exp_verdict_name(sub[3]), rm, rse, valley_exp_verdict_name(sub[4]));
done:
  valley_exp_model_free(&m1);
  if (lines != NULL)
    for (size_t i = 0; i < NR; i++) valley_prof_free(&lines[i]);
  free(lines);
  free(runs);
  free(alt);
  free(ft);
  free(x);
  free(y);
  free(s1loss);
  free(s1eval);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
