/* valley net: train an MLP on Fashion-MNIST (SGD with momentum, optional step schedule and SWA),
 * evaluate a checkpoint, and probe the train and test loss along random directions through it,
 * writing one profile CSV per direction for valley direction --profile.  include/valley/net.h,
 * include/valley/direction.h, docs/networks.md ("Commands"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "mpi.h"
#include "valley/checkpoint.h"
#include "valley/runck.h"
#include "valley/cuda.h"
#include "valley/direction.h"
#include "valley/idx.h"
#include "valley/net.h"
#include "valley/outfile.h"
#include "valley/profile.h"

#define NET_EVAL_BATCH 256   /* every evaluation uses it, so train and eval agree bit for bit */
#define NET_MAX_DIRECTIONS 256
#define NET_MAX_GRID 100001

#define OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 2 for bad input, 1 for out of memory or a numerical failure. */
static int fail_status(valley_status_t st) {
  return st == VALLEY_ENOMEM || st == VALLEY_ENUMERIC ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
}

/* "784,256,10" -> cfg (no BN yet).  -1 when fine, else the exit status after the error line. */
static int parse_widths(const char *cmd, const char *s, int bn, valley_mlp_config_t *cfg) {
  double w[VALLEY_MLP_MAX_LAYERS + 2];
  int n = cli_parse_numbers(s, w, VALLEY_MLP_MAX_LAYERS + 1);
  if (n < 2 || n > VALLEY_MLP_MAX_LAYERS + 1)
    return cli_usage_error(cmd, "--widths must be 2 to %d comma-separated integers, inputs first "
                           "and classes last (got '%s')", VALLEY_MLP_MAX_LAYERS + 1, s);
  valley_mlp_config_default(cfg);
  for (int i = 0; i < n; i++) {
    if (!(w[i] >= 1) || w[i] > 1e6 || w[i] != floor(w[i]))
      return cli_usage_error(cmd, "--widths: every width must be an integer in [1, 1e6] (got '%s')",
                             s);
    cfg->widths[i] = (size_t)w[i];
  }
  cfg->n_layers = (size_t)n - 1;
  cfg->batch_norm = bn;
  if (bn && n < 3) return cli_usage_error(cmd, "--bn needs a hidden layer in --widths (got '%s')", s);
  return -1;
}

/* --arch and --channels (with --widths for the MLP): *cnn and ch[0..1].  -1 when fine. */
static int parse_arch(const char *cmd, const char *arch, const char *channels, const char *widths,
                      int *cnn, size_t ch[2]) {
  if (arch == NULL || strcmp(arch, "mlp") == 0)
    *cnn = 0;
  else if (strcmp(arch, "cnn") == 0)
    *cnn = 1;
  else
    return cli_usage_error(cmd, "--arch must be mlp or cnn (got '%s')", arch);
  if (!*cnn) {
    if (channels != NULL)
      return cli_usage_error(cmd, "--channels goes with --arch cnn (the MLP takes --widths)");
    return -1;
  }
  if (widths != NULL)
    return cli_usage_error(cmd, "--widths goes with --arch mlp (the CNN takes --channels C1,C2)");
  if (channels == NULL) return cli_usage_error(cmd, "--arch cnn needs --channels C1,C2");
  double c[4];
  int n = cli_parse_numbers(channels, c, 3);
  if (n != 2)
    return cli_usage_error(cmd, "--channels must be two comma-separated integers C1,C2 (got '%s')",
                           channels);
  for (int i = 0; i < 2; i++) {
    if (!(c[i] >= 1) || c[i] > 4096 || c[i] != floor(c[i]))
      return cli_usage_error(cmd, "--channels: every channel count must be an integer in "
                             "[1, 4096] (got '%s')", channels);
    ch[i] = (size_t)c[i];
  }
  return -1;
}

/* The CNN for C x H x W images and `classes` classes (docs/networks.md). */
static void cnn_config(valley_mlp_config_t *cfg, const size_t ch[2], int bn, size_t c, size_t h,
                       size_t w, size_t classes) {
  valley_mlp_config_default(cfg);
  cfg->arch = VALLEY_ARCH_CNN;
  cfg->n_layers = 3;
  cfg->in_channels = c;
  cfg->height = h;
  cfg->width = w;
  cfg->widths[0] = c * h * w;
  cfg->widths[1] = ch[0];
  cfg->widths[2] = ch[1];
  cfg->widths[3] = classes;
  cfg->batch_norm = bn;
}

/* The training and test sets, subsets by data_seed (0: all).  -1 when fine. */
static int load_data(const char *cmd, const char *dir, size_t train_subset, size_t test_subset,
                     uint64_t data_seed, valley_dataset_t *train, valley_dataset_t *test) {
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return cli_usage_error(cmd, "--data %s: no such directory (install dataset-fashion-mnist or "
                           "give the directory of the four IDX files)", dir);
  valley_error_t err;
  valley_status_t st = valley_dataset_load_fashion_mnist(dir, "train", train, &err);
  if (st == VALLEY_OK) st = valley_dataset_load_fashion_mnist(dir, "test", test, &err);
  if (st != VALLEY_OK) {
    valley_dataset_free(train);
    valley_dataset_free(test);
    return st == VALLEY_ENOMEM ? (fprintf(stderr, "valley %s: --data: %s\n", cmd, err.message),
                                  CLI_EXIT_FAIL)
                               : cli_usage_error(cmd, "--data: %s", err.message);
  }
  const char *flags[2] = {"--train-subset", "--test-subset"};
  size_t want[2] = {train_subset, test_subset};
  valley_dataset_t *sets[2] = {train, test};
  for (int i = 0; i < 2; i++) {
    if (want[i] == 0 || want[i] == sets[i]->n) continue;
    if (want[i] > sets[i]->n) {
      int rc = cli_usage_error(cmd, "%s %zu exceeds the %zu examples of the %s set", flags[i],
                               want[i], sets[i]->n, i == 0 ? "training" : "test");
      valley_dataset_free(train);
      valley_dataset_free(test);
      return rc;
    }
    valley_dataset_t sub;
    memset(&sub, 0, sizeof sub);
    st = valley_dataset_subset(sets[i], want[i], data_seed, &sub, &err);
    if (st != VALLEY_OK) {
      fprintf(stderr, "valley %s: %s: %s\n", cmd, flags[i], err.message);
      valley_dataset_free(train);
      valley_dataset_free(test);
      return fail_status(st);
    }
    valley_dataset_free(sets[i]);
    *sets[i] = sub;
  }
  return -1;
}

/* The network must fit the data: widths[0] features and widths[last] classes. */
static int check_fit(const char *cmd, const char *what, const valley_mlp_config_t *cfg,
                     const valley_dataset_t *ds) {
  if (cfg->widths[0] != ds->dim)
    return cli_usage_error(cmd, "%s: the network has %zu inputs but the data has %zu features",
                           what, cfg->widths[0], ds->dim);
  if (cfg->widths[cfg->n_layers] != ds->n_classes)
    return cli_usage_error(cmd, "%s: the network has %zu outputs but the data has %u classes",
                           what, cfg->widths[cfg->n_layers], ds->n_classes);
  return -1;
}

/* Whether an output file can be created (before any long work): opens and aborts it. */
static int check_writable(const char *cmd, const char *flag, const char *path) {
  valley_outfile_t o = {NULL, NULL, NULL};
  valley_error_t err;
  if (valley_outfile_open(&o, path, &err) != VALLEY_OK)
    return cli_usage_error(cmd, "%s: %s", flag, err.message);
  valley_outfile_abort(&o);
  return -1;
}

/* A network and its parameters from a valley checkpoint, or from .safetensors with the given
 * architecture.  -1 when fine. */
static int load_net(const char *cmd, const char *ck_path, const char *st_path,
                    const valley_mlp_config_t *st_cfg, size_t max_batch, valley_mlp_t **net,
                    float **params) {
  valley_error_t err;
  valley_status_t st;
  valley_mlp_config_t cfg;
  *net = NULL;
  *params = NULL;
  if (ck_path != NULL) {
    valley_checkpoint_t *ck = NULL;
    st = valley_checkpoint_read(ck_path, NULL, &ck, &err);
    if (st != VALLEY_OK) {
      fprintf(stderr, "valley %s: --checkpoint: %s\n", cmd, err.message);
      return fail_status(st);
    }
    cfg = ck->cfg;
    valley_checkpoint_free(ck);
  } else {
    cfg = *st_cfg;
  }
  st = valley_mlp_alloc(&cfg, max_batch, net, &err);
  if (st == VALLEY_OK) {
    *params = malloc((*net)->n_params * sizeof **params);
    if (*params == NULL) st = VALLEY_ERROR(&err, VALLEY_ENOMEM, "%zu parameters", (*net)->n_params);
  }
  if (st == VALLEY_OK) {
    if (ck_path != NULL)
      st = valley_checkpoint_load(ck_path, *net, *params, NULL, NULL, &err);
    else
      st = valley_safetensors_load(st_path, *net, *params, &err);
  }
  if (st != VALLEY_OK) {
    fprintf(stderr, "valley %s: %s: %s\n", cmd, ck_path != NULL ? "--checkpoint" : "--safetensors",
            err.message);
    free(*params);
    valley_mlp_free(*net);
    *net = NULL;
    *params = NULL;
    return fail_status(st);
  }
  return -1;
}

static void json_widths(valley_json_t *j, const valley_mlp_config_t *cfg) {
  double w[VALLEY_MLP_MAX_LAYERS + 1];
  for (size_t i = 0; i <= cfg->n_layers; i++) w[i] = (double)cfg->widths[i];
  valley_json_string(j, "arch", valley_arch_name(cfg->arch));
  valley_json_numbers(j, "widths", w, cfg->n_layers + 1);
  if (cfg->arch == VALLEY_ARCH_CNN) {
    double c[3] = {(double)cfg->widths[1], (double)cfg->widths[2], 0};
    valley_json_numbers(j, "channels", c, 2);
    c[0] = (double)cfg->in_channels;
    c[1] = (double)cfg->height;
    c[2] = (double)cfg->width;
    valley_json_numbers(j, "image", c, 3);
  }
  valley_json_bool(j, "batch_norm", cfg->batch_norm);
}

static void format_widths(char *buf, size_t size, const valley_mlp_config_t *cfg) {
  size_t used = 0;
  buf[0] = '\0';
  if (cfg->arch == VALLEY_ARCH_CNN) {
    snprintf(buf, size, "CNN %zux%zux%zu, channels %zu,%zu, %zu classes", cfg->in_channels,
             cfg->height, cfg->width, cfg->widths[1], cfg->widths[2], cfg->widths[3]);
    return;
  }
  for (size_t i = 0; i <= cfg->n_layers && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%zu", i ? "-" : "", cfg->widths[i]);
}

typedef struct {
  double train_loss, train_acc, test_loss, test_acc;
} net_metrics_t;

static valley_status_t evaluate_both(valley_mlp_t *net, const float *params,
                                     const valley_dataset_t *train, const valley_dataset_t *test,
                                     net_metrics_t *m, valley_error_t *err) {
  valley_status_t st = valley_mlp_evaluate(net, params, train, NET_EVAL_BATCH, &m->train_loss,
                                           &m->train_acc, err);
  if (st == VALLEY_OK)
    st = valley_mlp_evaluate(net, params, test, NET_EVAL_BATCH, &m->test_loss, &m->test_acc, err);
  return st;
}

static void json_metrics(valley_json_t *j, const net_metrics_t *m) {
  valley_json_number(j, "train_loss", m->train_loss);
  valley_json_number(j, "train_accuracy", m->train_acc);
  valley_json_number(j, "test_loss", m->test_loss);
  valley_json_number(j, "test_accuracy", m->test_acc);
}

/* ---- train ---------------------------------------------------------------------------------- */

typedef struct {
  const char *widths, *data, *out, *safetensors;
  int bn, json;
  size_t epochs, batch, lr_step, swa_start, swa_freq, train_subset, test_subset;
  double lr, momentum, wd, gamma;
  uint64_t seed, data_seed;
  const char *arch, *channels, *state;
} train_args_t;

#define TRAIN_OPTIONS(X, a)                                                                       \
  X("--arch", OPT_STRING, &a.arch, "mlp|cnn", "architecture: mlp (with --widths) or cnn (with --channels; default mlp)") \
  X("--widths", OPT_STRING, &a.widths, "W0,...,WL", "mlp: layer widths, inputs first and classes last (784,...,10 for Fashion-MNIST)") \
  X("--channels", OPT_STRING, &a.channels, "C1,C2", "cnn: output channels of its two 3x3 conv layers (then 2x2 max pooling each, then a linear layer)") \
  X("--bn", OPT_FLAG, &a.bn, NULL, "batch normalization after every hidden linear (mlp) or conv (cnn) layer") \
  X("--epochs", OPT_SIZE, &a.epochs, "N", "epochs of SGD (>= 1)")                               \
  X("--batch", OPT_SIZE, &a.batch, "B", "minibatch size (1..65536)")                           \
  X("--lr", OPT_DOUBLE, &a.lr, "X", "learning rate (> 0)")                                      \
  X("--momentum", OPT_DOUBLE, &a.momentum, "X", "momentum in [0, 1) (PyTorch's convention)")   \
  X("--weight-decay", OPT_DOUBLE, &a.wd, "X", "L2 weight decay on the weights (>= 0; not biases, not BN)") \
  X("--lr-step-epoch", OPT_SIZE, &a.lr_step, "E", "step schedule: multiply the lr by --lr-gamma every E epochs (0: constant lr)") \
  X("--lr-gamma", OPT_DOUBLE, &a.gamma, "G", "step schedule factor, in (0, 1]")               \
  X("--swa-start", OPT_SIZE, &a.swa_start, "E", "SWA: average the models after epoch E (1-based) and every --swa-freq epochs after it (0: no SWA)") \
  X("--swa-freq", OPT_SIZE, &a.swa_freq, "F", "SWA: epochs between averaged models (>= 1)")  \
  X("--train-subset", OPT_SIZE, &a.train_subset, "N", "train on N of the 60,000 training images chosen by --data-seed (0: all)") \
  X("--test-subset", OPT_SIZE, &a.test_subset, "N", "test on N of the 10,000 test images chosen by --data-seed (0: all)") \
  X("--seed", OPT_U64, &a.seed, "S", "PCG32 seed of the initialization and the shuffles")    \
  X("--data-seed", OPT_U64, &a.data_seed, "S", "PCG32 seed of the subsets")                  \
  X("--data", OPT_STRING, &a.data, "DIR", "Fashion-MNIST directory (train-/t10k- IDX files, gzip or plain)") \
  X("--out", OPT_STRING, &a.out, "CK.vck", "write the checkpoint here (atomic; required)")  \
  X("--safetensors", OPT_STRING, &a.safetensors, "FILE", "also write the parameters as .safetensors (atomic)") \
  X("--json", OPT_FLAG, &a.json, NULL, "print the summary as JSON")                            \
  X("--state", OPT_STRING, &a.state, "FILE", "save the training state after every epoch (atomic); a run given the same FILE goes on after its last epoch, to the same bytes (docs/reliability.md)")

static const char *const TRAIN_SUMMARY =
    "Trains an MLP or the small CNN on Fashion-MNIST by minibatch SGD with momentum (cross-entropy, weight decay on\n"
    "the weights), optionally with a step learning-rate schedule and stochastic weight averaging\n"
    "(the SWA average, its BN statistics recomputed over the training set, becomes the\n"
    "checkpoint's parameters).  One line per epoch on stderr; the final train and test loss and\n"
    "accuracy on stdout.  See docs/networks.md.";

typedef struct {
  double lr, train_loss, test_loss, test_acc, seconds;
} epoch_row_t;

/* --state: what training after epoch e depends on -- the parameters, the velocity, the SWA
 * average and its count, the BN running statistics -- and the history rows, after each epoch
 * (valley/runck.h: fingerprint, CRC, atomic).  Epoch e's shuffle depends only on (seed, e), so a
 * run resumed from the state of epoch e goes on exactly as the uninterrupted one. */
typedef struct {
  uint64_t epochs_done, swa_count, n_params, n_buffers, has_swa;
} train_state_head_t;

static valley_status_t state_save(const char *path, const char *fp, const valley_mlp_t *net,
                                  const float *params, const float *velocity, const float *swa,
                                  uint64_t swa_count, const epoch_row_t *hist, size_t done,
                                  valley_error_t *err) {
  train_state_head_t h = {done, swa_count, net->n_params, net->n_buffers, swa != NULL};
  size_t np = net->n_params * sizeof(float), nb = net->n_buffers / 2 * sizeof(float);
  size_t len = sizeof h + done * sizeof *hist + (swa != NULL ? 3 : 2) * np + 2 * nb;
  unsigned char *buf = malloc(len), *q = buf;
  if (buf == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for --state");
  memcpy(q, &h, sizeof h), q += sizeof h;
  memcpy(q, hist, done * sizeof *hist), q += done * sizeof *hist;
  memcpy(q, params, np), q += np;
  memcpy(q, velocity, np), q += np;
  if (swa != NULL) memcpy(q, swa, np), q += np;
  if (nb > 0) {
    memcpy(q, net->running_mean, nb), q += nb;
    memcpy(q, net->running_var, nb);
  }
  valley_status_t st = valley_runck_save_state(path, fp, buf, len, err);
  free(buf);
  return st;
}

/* Reads a state back (nothing when the file does not exist: *done = 0). */
static valley_status_t state_load(const char *path, const char *fp, size_t epochs,
                                  valley_mlp_t *net, float *params, float *velocity, float *swa,
                                  uint64_t *swa_count, epoch_row_t *hist, size_t *done,
                                  valley_error_t *err) {
  void *data;
  size_t len;
  *done = 0;
  valley_status_t st = valley_runck_load_state(path, fp, &data, &len, err);
  if (st != VALLEY_OK || data == NULL) return st;
  train_state_head_t h;
  size_t np = net->n_params * sizeof(float), nb = net->n_buffers / 2 * sizeof(float);
  const unsigned char *q = data;
  if (len >= sizeof h) memcpy(&h, q, sizeof h);
  if (len < sizeof h || h.n_params != net->n_params || h.n_buffers != net->n_buffers ||
      h.has_swa != (swa != NULL) || h.epochs_done < 1 || h.epochs_done > epochs ||
      len != sizeof h + h.epochs_done * sizeof *hist + (swa != NULL ? 3 : 2) * np + 2 * nb) {
    free(data);
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: the training state does not fit this network",
                        path);
  }
  q += sizeof h;
  memcpy(hist, q, h.epochs_done * sizeof *hist), q += h.epochs_done * sizeof *hist;
  memcpy(params, q, np), q += np;
  memcpy(velocity, q, np), q += np;
  if (swa != NULL) memcpy(swa, q, np), q += np;
  if (nb > 0) {
    memcpy(net->running_mean, q, nb), q += nb;
    memcpy(net->running_var, q, nb);
  }
  *swa_count = h.swa_count;
  *done = (size_t)h.epochs_done;
  free(data);
  return VALLEY_OK;
}

static int cmd_train(int argc, char **argv) {
  const char *cmd = "net train";
  train_args_t a = {NULL, VALLEY_FASHION_MNIST_DIR, NULL, NULL, 0, 0, 10, 128, 0, 0, 1, 0, 0,
                    0.05, 0.9, 5e-4, 0.1, 1, 1, NULL, NULL, NULL};
  cli_opt_t opts[] = {TRAIN_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(cmd, TRAIN_SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  int cnn = 0;
  size_t ch[2] = {0, 0};
  rc = parse_arch(cmd, a.arch, a.channels, a.widths, &cnn, ch);
  if (rc >= 0) return rc;
  if (!cnn && a.widths == NULL) return cli_usage_error(cmd, "--widths W0,...,WL is required");
  if (a.out == NULL) return cli_usage_error(cmd, "--out CK.vck is required");
  valley_mlp_config_t cfg;
  valley_mlp_config_default(&cfg);
  if (!cnn) {
    rc = parse_widths(cmd, a.widths, a.bn, &cfg);
    if (rc >= 0) return rc;
  }
  if (a.epochs < 1 || a.epochs > 100000)
    return cli_usage_error(cmd, "--epochs must be in [1, 100000] (got %zu)", a.epochs);
  if (a.batch < 1 || a.batch > 65536)
    return cli_usage_error(cmd, "--batch must be in [1, 65536] (got %zu)", a.batch);
  if (!(a.lr > 0) || !(a.lr <= 1e30))
    return cli_usage_error(cmd, "--lr must be > 0 and <= 1e30 (the weights are floats; got %g)",
                           a.lr);
  if (!(a.momentum >= 0 && a.momentum < 1))
    return cli_usage_error(cmd, "--momentum must be in [0, 1) (got %g)", a.momentum);
  if (!(a.wd >= 0) || !(a.wd <= 1e30))
    return cli_usage_error(cmd, "--weight-decay must be >= 0 and <= 1e30 (the weights are floats; "
                           "got %g)", a.wd);
  if (!(a.gamma > 0 && a.gamma <= 1))
    return cli_usage_error(cmd, "--lr-gamma must be in (0, 1] (got %g)", a.gamma);
  if (a.swa_freq < 1) return cli_usage_error(cmd, "--swa-freq must be >= 1 (got %zu)", a.swa_freq);
  if (a.swa_start > a.epochs)
    return cli_usage_error(cmd, "--swa-start %zu is after the last epoch (--epochs %zu)",
                           a.swa_start, a.epochs);
  rc = check_writable(cmd, "--out", a.out);
  if (rc >= 0) return rc;
  if (a.safetensors != NULL) {
    rc = check_writable(cmd, "--safetensors", a.safetensors);
    if (rc >= 0) return rc;
  }
  valley_dataset_t train, test;
  rc = load_data(cmd, a.data, a.train_subset, a.test_subset, a.data_seed, &train, &test);
  if (rc >= 0) return rc;
  if (cnn) cnn_config(&cfg, ch, a.bn, 1, train.rows, train.cols, train.n_classes);
  rc = check_fit(cmd, cnn ? "--channels" : "--widths", &cfg, &train);
  if (rc >= 0) {
    valley_dataset_free(&train);
    valley_dataset_free(&test);
    return rc;
  }

  valley_error_t err;
  valley_mlp_t *net = NULL;
  float *params = NULL, *velocity = NULL, *swa = NULL;
  epoch_row_t *hist = calloc(a.epochs, sizeof *hist);
  size_t max_batch = a.batch > NET_EVAL_BATCH ? a.batch : NET_EVAL_BATCH;
  valley_status_t st = valley_mlp_alloc(&cfg, max_batch, &net, &err);
  if (st == VALLEY_OK) {
    params = malloc(net->n_params * sizeof *params);
    velocity = calloc(net->n_params, sizeof *velocity);
    if (a.swa_start > 0) swa = malloc(net->n_params * sizeof *swa);
    if (params == NULL || velocity == NULL || hist == NULL || (a.swa_start > 0 && swa == NULL))
      st = VALLEY_ERROR(&err, VALLEY_ENOMEM, "%zu parameters", net->n_params);
  }
  valley_sgd_config_t sgd;
  valley_sgd_config_default(&sgd);
  sgd.batch = a.batch;
  sgd.lr = a.lr;
  sgd.momentum = a.momentum;
  sgd.weight_decay = a.wd;
  sgd.schedule = a.lr_step > 0 ? VALLEY_LR_STEP : VALLEY_LR_CONSTANT;
  sgd.step_every = a.lr_step > 0 ? a.lr_step : 1;
  sgd.step_gamma = a.gamma;
  sgd.seed = a.seed;
  uint64_t swa_count = 0;
  double t0 = now_s();
  char wbuf[160];
  format_widths(wbuf, sizeof wbuf, &cfg);
  if (st == VALLEY_OK) {
    valley_mlp_init(net, params, a.seed);
    fprintf(stderr, "valley %s: %s%s, %zu parameters, %zu training and %zu test images\n", cmd,
            wbuf, cfg.batch_norm ? " with BN" : "", net->n_params, train.n, test.n);
  }
  char *fp = NULL;
  size_t e0 = 0;
  if (st == VALLEY_OK && a.state != NULL) {
    static const char *const skip[] = {"--json", "--state", "--out", "--safetensors"};
    fp = cli_fingerprint(cmd, opts, nopts, skip, sizeof skip / sizeof skip[0]);
    valley_runck_remove_stale(a.state); /* a SIGKILL in the middle of a save */
    st = fp == NULL ? VALLEY_ERROR(&err, VALLEY_ENOMEM, "out of memory")
                    : state_load(a.state, fp, a.epochs, net, params, velocity, swa, &swa_count,
                                 hist, &e0, &err);
    if (st == VALLEY_OK && e0 > 0) {
      fprintf(stderr, "valley %s: resuming from %s after epoch %zu of %zu\n", cmd, a.state, e0,
              a.epochs);
      t0 = now_s() - hist[e0 - 1].seconds;
    }
  }
  cli_progress_t prog;
  cli_progress_init(&prog, "net train");
  for (size_t e = e0; e < a.epochs && st == VALLEY_OK; e++) {
    epoch_row_t *h = &hist[e];
    h->lr = valley_sgd_lr(&sgd, e);
    st = valley_mlp_train_epoch(net, params, a.momentum > 0 ? velocity : NULL, &train, &sgd, e,
                                &h->train_loss, &err);
    if (st == VALLEY_OK)
      st = valley_mlp_evaluate(net, params, &test, NET_EVAL_BATCH, &h->test_loss, &h->test_acc,
                               &err);
    if (st != VALLEY_OK) break;
    int swa_now = a.swa_start > 0 && e + 1 >= a.swa_start && (e + 1 - a.swa_start) % a.swa_freq == 0;
    if (swa_now) valley_swa_update(swa, params, net->n_params, (size_t)swa_count++);
    h->seconds = now_s() - t0;
    if (prog.shown) fputs("\r\033[K", stderr);
    fprintf(stderr, "epoch %zu/%zu  lr %.4g  train loss %.4f  test loss %.4f  test acc %.4f%s  "
            "(%.1f s)\n", e + 1, a.epochs, h->lr, h->train_loss, h->test_loss, h->test_acc,
            swa_now ? "  [SWA]" : "", h->seconds);
    if (a.state != NULL)
      st = state_save(a.state, fp, net, params, velocity, swa, swa_count, hist, e + 1, &err);
    /* a signal (cli/signals.c): stop after the epoch, its state saved; write no model */
    if (st == VALLEY_OK && cli_progress_cb((double)(e + 1) / (double)a.epochs, &prog) != 0) {
      if (a.state != NULL)
        st = VALLEY_ERROR(&err, VALLEY_ECANCEL, "the state after epoch %zu of %zu is saved in %s",
                          e + 1, a.epochs, a.state);
      else
        st = VALLEY_ERROR(&err, VALLEY_ECANCEL, "interrupted after epoch %zu of %zu", e + 1,
                          a.epochs);
    }
  }
  free(fp);
  cli_progress_done(&prog);
  /* With SWA the average, its BN statistics recomputed, is the model. */
  const float *model = params;
  if (st == VALLEY_OK && swa_count > 0) {
    st = valley_mlp_recompute_bn(net, swa, &train, a.batch, &err);
    model = swa;
  }
  net_metrics_t fin = {0, 0, 0, 0};
  if (st == VALLEY_OK) st = evaluate_both(net, model, &train, &test, &fin, &err);
  double seconds = now_s() - t0;
  if (st == VALLEY_OK) {
    valley_checkpoint_extra_t extra = {NULL, NULL, 0};
    if (swa_count > 0) {
      extra.swa_avg = swa;
      extra.swa_count = swa_count;
    } else if (a.momentum > 0) {
      extra.velocity = velocity;
    }
    st = valley_checkpoint_save(a.out, net, model, &extra, &err);
    if (st == VALLEY_OK && a.safetensors != NULL &&
        (st = valley_safetensors_save(a.safetensors, net, model, &err)) != VALLEY_OK)
      unlink(a.out); /* both files or neither */
  }
  if (st != VALLEY_OK) {
    if (st == VALLEY_ECANCEL && a.state != NULL && cli_interrupted() != 0)
      fprintf(stderr, "valley %s: interrupted by %s: %s; run the same command again to resume\n",
              cmd, cli_signal_name(cli_interrupted()), err.message);
    else
      cli_print_error(cmd, &err);
    rc = st == VALLEY_EINVAL ? CLI_EXIT_USAGE : st == VALLEY_ECANCEL && a.state != NULL ? cli_cancel_status() : CLI_EXIT_FAIL;
  } else if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", "net");
    valley_json_string(&j, "subcommand", "train");
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    json_widths(&j, &cfg);
    valley_json_u64(&j, "parameters", net->n_params);
    valley_json_u64(&j, "epochs", a.epochs);
    valley_json_u64(&j, "batch", a.batch);
    valley_json_number(&j, "lr", a.lr);
    valley_json_number(&j, "momentum", a.momentum);
    valley_json_number(&j, "weight_decay", a.wd);
    valley_json_u64(&j, "lr_step_epoch", a.lr_step);
    valley_json_number(&j, "lr_gamma", a.gamma);
    valley_json_u64(&j, "seed", a.seed);
    valley_json_u64(&j, "data_seed", a.data_seed);
    valley_json_string(&j, "data", a.data);
    valley_json_u64(&j, "train_examples", train.n);
    valley_json_u64(&j, "test_examples", test.n);
    valley_json_object(&j, "swa");
    valley_json_bool(&j, "used", swa_count > 0);
    valley_json_u64(&j, "start", a.swa_start);
    valley_json_u64(&j, "freq", a.swa_freq);
    valley_json_u64(&j, "models", swa_count);
    valley_json_object_end(&j);
    valley_json_array(&j, "history");
    for (size_t e = 0; e < a.epochs; e++) {
      valley_json_object(&j, NULL);
      valley_json_u64(&j, "epoch", e + 1);
      valley_json_number(&j, "lr", hist[e].lr);
      valley_json_number(&j, "train_loss", hist[e].train_loss);
      valley_json_number(&j, "test_loss", hist[e].test_loss);
      valley_json_number(&j, "test_accuracy", hist[e].test_acc);
      valley_json_number(&j, "seconds", hist[e].seconds);
      valley_json_object_end(&j);
    }
    valley_json_array_end(&j);
    valley_json_object(&j, "final");
    json_metrics(&j, &fin);
    valley_json_object_end(&j);
    valley_json_number(&j, "seconds", seconds);
    valley_json_string(&j, "checkpoint", a.out);
    if (a.safetensors != NULL)
      valley_json_string(&j, "safetensors", a.safetensors);
    else
      valley_json_null(&j, "safetensors");
    valley_json_end(&j);
  } else {
    printf("valley net train: %s%s, %zu parameters, %zu epochs on %zu images, %.1f s\n", wbuf,
           cfg.batch_norm ? " with BN" : "", net->n_params, a.epochs, train.n, seconds);
    if (swa_count > 0)
      printf("  model: the SWA average of %llu models (epochs %zu, %zu, ...), BN statistics "
             "recomputed\n", (unsigned long long)swa_count, a.swa_start, a.swa_start + a.swa_freq);
    printf("  train loss %.6g  accuracy %.4f (%zu images)\n", fin.train_loss, fin.train_acc,
           train.n);
    printf("  test  loss %.6g  accuracy %.4f (%zu images)\n", fin.test_loss, fin.test_acc, test.n);
    printf("  checkpoint %s%s%s\n", a.out, a.safetensors ? ", safetensors " : "",
           a.safetensors ? a.safetensors : "");
  }
  if (st == VALLEY_OK && a.state != NULL) {
    /* the model is written and the summary out: nothing left to resume */
    if (fflush(stdout) == 0)
      unlink(a.state);
    else
      rc = CLI_EXIT_FAIL;
  }
  free(hist);
  free(swa);
  free(velocity);
  free(params);
  valley_mlp_free(net);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return rc >= 0 ? rc : CLI_EXIT_OK;
}

/* ---- eval ----------------------------------------------------------------------------------- */

typedef struct {
  const char *checkpoint, *safetensors, *widths, *data;
  int bn, json;
  size_t train_subset, test_subset;
  uint64_t data_seed;
  const char *arch, *channels;
} eval_args_t;

/* The network of eval and probe, when it is not a checkpoint: a .safetensors file and its
 * architecture. */
#define NET_SOURCE_OPTIONS(X, a)                                                                  \
  X("--safetensors", OPT_STRING, &a.safetensors, "FILE", "or a .safetensors file (with --widths and --bn)") \
  X("--arch", OPT_STRING, &a.arch, "mlp|cnn", "the architecture of --safetensors (default mlp)") \
  X("--widths", OPT_STRING, &a.widths, "W0,...,WL", "mlp: the widths of --safetensors")        \
  X("--channels", OPT_STRING, &a.channels, "C1,C2", "cnn: the channels of --safetensors (1x28x28 images, 10 classes)") \
  X("--bn", OPT_FLAG, &a.bn, NULL, "--safetensors has batch normalization")

#define EVAL_OPTIONS(X, a)                                                                        \
  X("--checkpoint", OPT_STRING, &a.checkpoint, "CK.vck", "the valley checkpoint to evaluate")  \
  NET_SOURCE_OPTIONS(X, a)                                                                     \
  X("--train-subset", OPT_SIZE, &a.train_subset, "N", "evaluate on N training images chosen by --data-seed (0: all)") \
  X("--test-subset", OPT_SIZE, &a.test_subset, "N", "evaluate on N test images chosen by --data-seed (0: all)") \
  X("--data-seed", OPT_U64, &a.data_seed, "S", "PCG32 seed of the subsets")                  \
  X("--data", OPT_STRING, &a.data, "DIR", "Fashion-MNIST directory")                           \
  X("--json", OPT_FLAG, &a.json, NULL, "print the report as JSON")

static const char *const EVAL_SUMMARY =
    "Loss and accuracy of a trained network on the Fashion-MNIST training and test sets (EVAL\n"
    "mode: BN by the stored running statistics).  With the same --train-subset, --test-subset and\n"
    "--data-seed as valley net train, the numbers are those of its final report, bit for bit.";

/* Checks --checkpoint / --safetensors [--arch A] --widths|--channels [--bn]. */
static int source_args(const char *cmd, const char *ck, const char *stf, const char *arch,
                       const char *widths, const char *channels, int bn,
                       valley_mlp_config_t *cfg) {
  if ((ck == NULL) == (stf == NULL))
    return cli_usage_error(cmd, "give one of --checkpoint CK.vck or --safetensors FILE");
  if (ck != NULL && (widths != NULL || bn || arch != NULL || channels != NULL))
    return cli_usage_error(cmd, "--arch, --widths, --channels and --bn go with --safetensors (a "
                           "checkpoint stores its architecture)");
  if (stf != NULL) {
    int cnn = 0;
    size_t ch[2] = {0, 0};
    int rc = parse_arch(cmd, arch, channels, widths, &cnn, ch);
    if (rc >= 0) return rc;
    if (cnn) {
      cnn_config(cfg, ch, bn, 1, 28, 28, 10); /* Fashion-MNIST */
      return -1;
    }
    if (widths == NULL) return cli_usage_error(cmd, "--safetensors needs --widths W0,...,WL");
    rc = parse_widths(cmd, widths, bn, cfg);
    if (rc >= 0) return rc;
  }
  return -1;
}

static int cmd_eval(int argc, char **argv) {
  const char *cmd = "net eval";
  eval_args_t a = {NULL, NULL, NULL, VALLEY_FASHION_MNIST_DIR, 0, 0, 0, 0, 1, NULL, NULL};
  cli_opt_t opts[] = {EVAL_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(cmd, EVAL_SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  valley_mlp_config_t scfg;
  rc = source_args(cmd, a.checkpoint, a.safetensors, a.arch, a.widths, a.channels, a.bn, &scfg);
  if (rc >= 0) return rc;
  valley_mlp_t *net;
  float *params;
  rc = load_net(cmd, a.checkpoint, a.safetensors, &scfg, NET_EVAL_BATCH, &net, &params);
  if (rc >= 0) return rc;
  valley_dataset_t train, test;
  rc = load_data(cmd, a.data, a.train_subset, a.test_subset, a.data_seed, &train, &test);
  if (rc < 0) {
    rc = check_fit(cmd, a.checkpoint ? a.checkpoint : a.safetensors, &net->cfg, &train);
    if (rc < 0) {
      net_metrics_t m;
      valley_error_t err;
      valley_status_t st = evaluate_both(net, params, &train, &test, &m, &err);
      if (st != VALLEY_OK) {
        cli_print_error(cmd, &err);
        rc = fail_status(st);
      } else if (a.json) {
        valley_json_t j;
        valley_json_begin(&j, stdout);
        valley_json_string(&j, "command", "net");
        valley_json_string(&j, "subcommand", "eval");
        valley_json_string(&j, "version", VALLEY_VERSION);
        valley_json_build(&j);
        valley_json_string(&j, "source", a.checkpoint ? a.checkpoint : a.safetensors);
        json_widths(&j, &net->cfg);
        valley_json_u64(&j, "parameters", net->n_params);
        valley_json_u64(&j, "train_examples", train.n);
        valley_json_u64(&j, "test_examples", test.n);
        json_metrics(&j, &m);
        valley_json_end(&j);
      } else {
        char wbuf[160];
        format_widths(wbuf, sizeof wbuf, &net->cfg);
        printf("valley net eval: %s (%s%s, %zu parameters)\n",
               a.checkpoint ? a.checkpoint : a.safetensors, wbuf,
               net->cfg.batch_norm ? " with BN" : "", net->n_params);
        printf("  train loss %.6g  accuracy %.4f (%zu images)\n", m.train_loss, m.train_acc,
               train.n);
        printf("  test  loss %.6g  accuracy %.4f (%zu images)\n", m.test_loss, m.test_acc, test.n);
      }
    }
    valley_dataset_free(&train);
    valley_dataset_free(&test);
  }
  free(params);
  valley_mlp_free(net);
  return rc >= 0 ? rc : CLI_EXIT_OK;
}

/* ---- probe ---------------------------------------------------------------------------------- */

typedef struct {
  const char *checkpoint, *safetensors, *widths, *data, *family, *grid, *out;
  int bn, json;
  size_t directions, train_subset, test_subset, batch;
  uint64_t seed, data_seed;
  const char *arch, *channels;
  const char *device;
} probe_args_t;

#define PROBE_OPTIONS(X, a)                                                                       \
  X("--checkpoint", OPT_STRING, &a.checkpoint, "CK.vck", "the solution w* (a valley checkpoint)") \
  NET_SOURCE_OPTIONS(X, a)                                                                     \
  X("--family", OPT_STRING, &a.family, "NAME", "gaussian | filter | whole | uniform | sign | bn | non-bn (docs/directions.md)") \
  X("--directions", OPT_SIZE, &a.directions, "K", "directions 0..K-1 of --seed (1..256)")     \
  X("--grid", OPT_STRING, &a.grid, "LMIN:LMAX:N", "N equally spaced l in [LMIN, LMAX], LMIN < 0 < LMAX, N >= 5; l = 0 is added when not on it") \
  X("--seed", OPT_U64, &a.seed, "S", "direction k draws from PCG32(S, dirn stream + k)")     \
  X("--train-subset", OPT_SIZE, &a.train_subset, "N", "train loss over N training images chosen by --data-seed (0: all)") \
  X("--test-subset", OPT_SIZE, &a.test_subset, "N", "test loss over N test images chosen by --data-seed (0: all)") \
  X("--data-seed", OPT_U64, &a.data_seed, "S", "PCG32 seed of the subsets")                  \
  X("--batch", OPT_SIZE, &a.batch, "B", "data rows per pass of the probe (>= 1; default 512 on the CPU, 8192 with CUDA)") \
  X("--device", OPT_STRING, &a.device, "cpu|cuda", "where the probe runs: cpu (OpenMP + OpenBLAS) or cuda (GPU 0; docs/cuda.md)") \
  X("--data", OPT_STRING, &a.data, "DIR", "Fashion-MNIST directory")                           \
  X("--out", OPT_STRING, &a.out, "PREFIX", "write PREFIX_k.csv for k = 0..K-1 (atomic; required)") \
  X("--json", OPT_FLAG, &a.json, NULL, "print the report as JSON")

static const char *const PROBE_SUMMARY =
    "Train and test loss and accuracy along w* + l u for K random directions u of one family\n"
    "(EVAL mode: BN by w*'s running statistics), one profile CSV per direction\n"
    "(l,train_loss,test_loss,train_acc,test_acc; docs/profiles.md), ready for\n"
    "valley direction --profile PREFIX_k.csv.  See docs/directions.md.";

/* "LMIN:LMAX:N" -> a strictly increasing grid with l = 0 on it.  -1 when fine. */
static int parse_grid(const char *cmd, const char *s, double **grid, size_t *n_out) {
  char *end;
  double lo = strtod(s, &end);
  int ok = end != s && *end == ':';
  double hi = ok ? strtod(end + 1, &end) : 0;
  ok = ok && *end == ':';
  double nd = ok ? strtod(end + 1, &end) : 0;
  ok = ok && *end == '\0' && isfinite(lo) && isfinite(hi);
  if (!ok || !(nd >= VALLEY_PROF_MIN_POINTS && nd <= NET_MAX_GRID) || nd != floor(nd))
    return cli_usage_error(cmd, "--grid must be LMIN:LMAX:N with finite LMIN, LMAX and an integer "
                           "N in [%d, %d] (got '%s')", VALLEY_PROF_MIN_POINTS, NET_MAX_GRID, s);
  if (!(lo < 0 && hi > 0))
    return cli_usage_error(cmd, "--grid needs LMIN < 0 < LMAX, l = 0 being the solution (got '%s')",
                           s);
  size_t n = (size_t)nd;
  double *g = malloc((n + 1) * sizeof *g);
  if (g == NULL) {
    fprintf(stderr, "valley %s: --grid: out of memory\n", cmd);
    return CLI_EXIT_FAIL;
  }
  size_t m = 0;
  int have_zero = 0;
  for (size_t i = 0; i < n; i++) {
    double l = (lo * (double)(n - 1 - i) + hi * (double)i) / (double)(n - 1);
    if (fabs(l) <= 1e-12 * (hi - lo)) l = 0;
    if (!have_zero && l > 0) {
      g[m++] = 0;
      have_zero = 1;
    }
    if (l == 0) {
      if (have_zero) continue;
      have_zero = 1;
    }
    if (m > 0 && !(l > g[m - 1])) {
      free(g);
      return cli_usage_error(cmd, "--grid '%s' is too fine to be strictly increasing in double",
                             s);
    }
    g[m++] = l;
  }
  *grid = g;
  *n_out = m;
  return -1;
}

static size_t grid_index(const double *g, size_t n, double l) {
  for (size_t i = 0; i < n; i++)
    if (g[i] == l) return i;
  return 0;
}

/* mpi: NULL, or the MPI ranks (cli/mpi.h, docs/mpi.md): every rank parses and checks the same
 * arguments and loads the network and the data; the directions are split across the ranks in
 * whole chunks of VALLEY_PROBE_CHUNK; rank 0 alone writes the profiles and reports. */
static int probe(int argc, char **argv, const cli_mpi_t *mpi) {
  const char *cmd = "net probe";
  int root = cli_mpi_rank(mpi) == 0;
  probe_args_t a = {NULL, NULL, NULL, VALLEY_FASHION_MNIST_DIR, "filter", NULL, NULL, 0, 0, 1,
                    0, 0, 512, 1, 1, NULL, NULL, "cpu"};
  cli_opt_t opts[] = {PROBE_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(cmd, PROBE_SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  valley_mlp_config_t scfg;
  rc = source_args(cmd, a.checkpoint, a.safetensors, a.arch, a.widths, a.channels, a.bn, &scfg);
  if (rc >= 0) return rc;
  valley_dir_family_t family;
  if (valley_dir_family_parse(a.family, &family) != VALLEY_OK)
    return cli_usage_error(cmd, "--family must be gaussian, filter, whole, uniform, sign, bn or "
                           "non-bn (got '%s')", a.family);
  if (a.directions < 1 || a.directions > NET_MAX_DIRECTIONS)
    return cli_usage_error(cmd, "--directions must be in [1, %d] (got %zu)", NET_MAX_DIRECTIONS,
                           a.directions);
  if (a.batch < 1) return cli_usage_error(cmd, "--batch must be >= 1 (got %zu)", a.batch);
  int on_cuda = strcmp(a.device, "cuda") == 0;
  if (!on_cuda && strcmp(a.device, "cpu") != 0)
    return cli_usage_error(cmd, "--device must be cpu or cuda (got '%s')", a.device);
  char gpu[128] = "";
  if (on_cuda) {
    char why[200];
    if (valley_cuda_devices(why, sizeof why, gpu, sizeof gpu) < 1) {
      fprintf(stderr, "valley %s: --device cuda: %s\n", cmd, why);
      return CLI_EXIT_FAIL;
    }
    if (!cli_given(opts, nopts, "--batch")) {
      valley_probe_cuda_config_t ccfg;
      valley_probe_cuda_config_default(&ccfg);
      a.batch = ccfg.batch;
    }
  }
  if (on_cuda && cli_mpi_split(mpi))
    return cli_usage_error(cmd, "--device cuda does not run under mpirun with several ranks "
                                "(run it as one process; docs/mpi.md)");
  if (a.grid == NULL) return cli_usage_error(cmd, "--grid LMIN:LMAX:N is required");
  if (a.out == NULL) return cli_usage_error(cmd, "--out PREFIX is required");
  double *grid = NULL;
  size_t n_grid = 0;
  rc = parse_grid(cmd, a.grid, &grid, &n_grid);
  if (rc >= 0) return rc;

  size_t K = a.directions;
  char **paths = calloc(K, sizeof *paths);
  valley_outfile_t *outs = calloc(K, sizeof *outs);
  float **dirs = calloc(K, sizeof *dirs);
  valley_prof_t *profs = calloc(K, sizeof *profs);
  valley_mlp_t *net = NULL;
  float *params = NULL;
  valley_dataset_t train, test;
  memset(&train, 0, sizeof train);
  memset(&test, 0, sizeof test);
  size_t opened = 0;
  int have_data = 0, have_profs = 0;
  valley_error_t err;
  if (paths == NULL || outs == NULL || dirs == NULL || profs == NULL) {
    fprintf(stderr, "valley %s: out of memory\n", cmd);
    rc = CLI_EXIT_FAIL;
    goto done;
  }
  for (size_t k = 0; k < K; k++) {
    size_t len = strlen(a.out) + 32;
    paths[k] = malloc(len);
    if (paths[k] == NULL) {
      fprintf(stderr, "valley %s: out of memory\n", cmd);
      rc = CLI_EXIT_FAIL;
      goto done;
    }
    snprintf(paths[k], len, "%s_%zu.csv", a.out, k);
  }
  /* only rank 0 writes; the others follow its success or failure */
  rc = root ? check_writable(cmd, "--out", paths[0]) : -1;
  if (cli_mpi_sync_failed(mpi, rc < 0)) {
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  rc = load_net(cmd, a.checkpoint, a.safetensors, &scfg, NET_EVAL_BATCH, &net, &params);
  if (rc >= 0) goto done;
  if ((family == VALLEY_DIR_FAMILY_BN) && !net->cfg.batch_norm) {
    rc = cli_usage_error(cmd, "--family bn: the network has no batch normalization");
    goto done;
  }
  rc = load_data(cmd, a.data, a.train_subset, a.test_subset, a.data_seed, &train, &test);
  if (rc >= 0) goto done;
  have_data = 1;
  rc = check_fit(cmd, a.checkpoint ? a.checkpoint : a.safetensors, &net->cfg, &train);
  if (rc >= 0) goto done;

#ifdef VALLEY_HAVE_MPI
  int own = 1;
#endif
  valley_dir_config_t dcfg;
  valley_status_t st = valley_dir_config_family(family, &dcfg, &err);
  size_t kfirst = 0, kcount = K; /* the directions this rank probes */
#ifdef VALLEY_HAVE_MPI
  if (cli_mpi_split(mpi)) cli_mpi_probe_range(mpi, K, &kfirst, &kcount);
#endif
  for (size_t k = kfirst; k < kfirst + kcount && st == VALLEY_OK; k++) {
    dirs[k] = malloc(net->n_params * sizeof **dirs);
    if (dirs[k] == NULL)
      st = VALLEY_ERROR(&err, VALLEY_ENOMEM, "%zu directions of %zu parameters", K, net->n_params);
    else
      st = valley_direction(net, params, &dcfg, a.seed, k, dirs[k], &err);
  }
  double t0 = now_s();
  if (st == VALLEY_OK) {
    if (on_cuda) {
      valley_probe_cuda_config_t ccfg;
      valley_probe_cuda_config_default(&ccfg);
      ccfg.batch = a.batch;
      st = valley_probe_cuda(net, params, K, (const float *const *)dirs, n_grid, grid, &train,
                             &test, &ccfg, profs, &err);
    } else {
      valley_probe_config_t pcfg;
      valley_probe_config_default(&pcfg);
      pcfg.batch = a.batch;
#ifdef VALLEY_HAVE_MPI
      if (cli_mpi_split(mpi))
        st = cli_mpi_probe(mpi, net, params, K, (const float *const *)dirs, n_grid, grid, &train,
                           &test, &pcfg, profs, &own, &err);
      else
#endif
        st = valley_probe(net, params, K, (const float *const *)dirs, n_grid, grid, &train,
                          &test, &pcfg, profs, &err);
    }
    have_profs = st == VALLEY_OK;
  }
#ifdef VALLEY_HAVE_MPI
  else if (cli_mpi_split(mpi)) { /* a direction failed on this rank: tell the others */
    st = cli_mpi_agree(mpi, st, &own, &err);
  }
  if (cli_mpi_split(mpi) && st != VALLEY_OK) {
    if (!root && own) fprintf(mpi->err, "valley %s: MPI rank %d: %s\n", cmd, mpi->rank, err.message);
    if (!root) {
      rc = st == VALLEY_ENOMEM || st == VALLEY_EIO || st == VALLEY_ENUMERIC ? CLI_EXIT_FAIL
                                                                         : CLI_EXIT_USAGE;
      goto done;
    }
  }
  if (!root) {
    rc = CLI_EXIT_OK;
    goto done;
  }
#endif
  double seconds = now_s() - t0;
  for (size_t k = 0; k < K && st == VALLEY_OK; k++) {
    st = valley_outfile_open(&outs[k], paths[k], &err);
    if (st == VALLEY_OK) opened = k + 1;
  }
  if (st == VALLEY_OK) {
    for (size_t k = 0; k < K; k++) {
      char comment[512];
      snprintf(comment, sizeof comment,
               "valley net probe: %s, family %s, seed %llu, direction %zu, %zu train and %zu test "
               "images (EVAL mode)", a.checkpoint ? a.checkpoint : a.safetensors,
               valley_dir_family_name(family), (unsigned long long)a.seed, k, train.n, test.n);
      valley_prof_write(outs[k].f, comment, &profs[k]);
    }
    /* All on disk first (a full disk leaves none of them), then the renames. */
    for (size_t k = 0; k < K && st == VALLEY_OK; k++) st = valley_outfile_sync(&outs[k], &err);
    if (st == VALLEY_OK && cli_interrupted())
      st = VALLEY_ERROR(&err, VALLEY_ECANCEL, "interrupted");
    for (size_t k = 0; k < K && st == VALLEY_OK; k++) st = valley_outfile_commit(&outs[k], &err);
    if (st == VALLEY_OK) opened = 0; /* else done: aborts the rest (a committed one is a no-op) */
  }
  if (st != VALLEY_OK) {
    cli_print_error(cmd, &err);
    rc = st == VALLEY_ENOMEM || st == VALLEY_EIO || st == VALLEY_ENUMERIC ? CLI_EXIT_FAIL
         : st == VALLEY_ECANCEL ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    goto done;
  }
  size_t i0 = grid_index(grid, n_grid, 0.0);
  if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", "net");
    valley_json_string(&j, "subcommand", "probe");
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    valley_json_string(&j, "source", a.checkpoint ? a.checkpoint : a.safetensors);
    json_widths(&j, &net->cfg);
    valley_json_u64(&j, "parameters", net->n_params);
    valley_json_string(&j, "family", valley_dir_family_name(family));
    valley_json_u64(&j, "seed", a.seed);
    valley_json_u64(&j, "data_seed", a.data_seed);
    valley_json_u64(&j, "train_examples", train.n);
    valley_json_u64(&j, "test_examples", test.n);
    valley_json_numbers(&j, "grid", grid, n_grid);
    valley_json_string(&j, "device", on_cuda ? "cuda" : "cpu");
    if (on_cuda) valley_json_string(&j, "gpu", gpu);
    valley_json_u64(&j, "batch", a.batch);
    valley_json_number(&j, "seconds", seconds);
    valley_json_array(&j, "files");
    for (size_t k = 0; k < K; k++) valley_json_string(&j, NULL, paths[k]);
    valley_json_array_end(&j);
    valley_json_array(&j, "directions");
    for (size_t k = 0; k < K; k++) {
      const valley_prof_t *p = &profs[k];
      size_t at[3] = {0, i0, p->n - 1};
      const char *keys[3] = {"at_lmin", "at_0", "at_lmax"};
      valley_json_object(&j, NULL);
      valley_json_u64(&j, "index", k);
      valley_json_string(&j, "file", paths[k]);
      for (int q = 0; q < 3; q++) {
        valley_json_object(&j, keys[q]);
        valley_json_number(&j, "l", p->l[at[q]]);
        valley_json_number(&j, "train_loss", p->train[at[q]]);
        valley_json_number(&j, "test_loss", p->test[at[q]]);
        if (p->train_acc != NULL) {
          valley_json_number(&j, "train_accuracy", p->train_acc[at[q]]);
          valley_json_number(&j, "test_accuracy", p->test_acc[at[q]]);
        }
        valley_json_object_end(&j);
      }
      valley_json_object_end(&j);
    }
    valley_json_array_end(&j);
    valley_json_end(&j);
  } else {
    printf("valley net probe: %zu %s directions, %zu grid points in [%g, %g], %zu train and %zu "
           "test images, %.2f s on %s%s\n", K, valley_dir_family_name(family), n_grid, grid[0],
           grid[n_grid - 1], train.n, test.n, seconds, on_cuda ? "the GPU " : "the CPU",
           gpu);
    printf("  %-5s %-12s %-12s %-12s %-12s %-12s %-12s  file\n", "k", "train(lmin)", "train(0)",
           "train(lmax)", "test(lmin)", "test(0)", "test(lmax)");
    for (size_t k = 0; k < K; k++) {
      const valley_prof_t *p = &profs[k];
      printf("  %-5zu %-12.6g %-12.6g %-12.6g %-12.6g %-12.6g %-12.6g  %s\n", k, p->train[0],
             p->train[i0], p->train[p->n - 1], p->test[0], p->test[i0], p->test[p->n - 1],
             paths[k]);
    }
  }
  rc = CLI_EXIT_OK;
done:
  for (size_t k = 0; k < opened; k++) valley_outfile_abort(&outs[k]);
  if (have_profs)
    for (size_t k = 0; k < K; k++) valley_prof_free(&profs[k]);
  if (have_data) {
    valley_dataset_free(&train);
    valley_dataset_free(&test);
  }
  for (size_t k = 0; dirs != NULL && k < K; k++) free(dirs[k]);
  for (size_t k = 0; paths != NULL && k < K; k++) free(paths[k]);
  free(dirs);
  free(paths);
  free(outs);
  free(profs);
  free(params);
  valley_mlp_free(net);
  free(grid);
  return rc;
}

static int cmd_probe(int argc, char **argv) { return cli_mpi_main(probe, argc, argv); }

/* ---- dispatch ------------------------------------------------------------------------------- */

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} subcommands[] = {
    {"train", cmd_train, "train an MLP on Fashion-MNIST (SGD, step schedule, SWA) to a checkpoint"},
    {"eval", cmd_eval, "loss and accuracy of a checkpoint on the training and test sets"},
    {"probe", cmd_probe, "train/test loss along random directions: one profile CSV per direction"},
};

static void net_usage(FILE *f) {
  fprintf(f, "usage: valley net SUBCOMMAND [options]\n       valley net SUBCOMMAND --help\n\n"
             "subcommands:\n");
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
    fprintf(f, "  %-7s %s\n", subcommands[i].name, subcommands[i].summary);
}

int cli_cmd_net(int argc, char **argv) {
  if (argc < 1) return cli_usage_error("net", "a subcommand is needed: train, eval or probe");
  if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
      strcmp(argv[0], "help") == 0) {
    net_usage(stdout);
    return CLI_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
    if (strcmp(argv[0], subcommands[i].name) == 0) return subcommands[i].run(argc - 1, argv + 1);
  return cli_usage_error("net", "unknown subcommand '%s' (train, eval or probe)", argv[0]);
}
