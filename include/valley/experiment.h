/* The papers' real-network experiments (issue 6, docs/experiments.md): each one trains its own
 * Fashion-MNIST networks, probes them, and writes a report OUT/NAME.json (the numbers, a verdict
 * "reproduced" / "not reproduced" / "inconclusive" and a one-line summary) and the data of its
 * figures as OUT/NAME_*.csv.  Every file appears whole at the end of a successful run or not at
 * all.  A quick mode (small subsets, few directions) runs in tests; the full mode is the
 * documented scale.  `valley experiment NAME` runs one from the command line. */
#ifndef VALLEY_EXPERIMENT_H
#define VALLEY_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "valley/direction.h"
#include "valley/error.h"
#include "valley/idx.h"
#include "valley/json.h"
#include "valley/net.h"
#include "valley/outfile.h"
#include "valley/profile.h"

typedef enum {
  VALLEY_EXP_REPRODUCED = 0,
  VALLEY_EXP_NOT_REPRODUCED = 1,
  VALLEY_EXP_INCONCLUSIVE = 2
} valley_exp_verdict_t;

/* "reproduced", "not reproduced", "inconclusive". */
const char *valley_exp_verdict_name(valley_exp_verdict_t v);

typedef struct {
  int full;               /* 0: quick mode; 1: full mode */
  const char *data_dir;   /* Fashion-MNIST directory; NULL: the Debian package's */
  const char *out_dir;    /* an existing directory for the report and the CSV files */
  uint64_t seed;          /* every draw of the experiment derives from it */
  int cuda;               /* probes on the GPU (valley_probe_cuda) instead of the CPU */
  /* progress lines ("training the BN MLP, epoch 3/10"), may be NULL */
  void (*progress)(void *ctx, const char *line);
  void *progress_ctx;
  /* may be NULL; nonzero stops the run after the current epoch (ECANCEL, no file written) */
  int (*cancel)(void *ctx);
} valley_exp_config_t;

/* quick, data and out_dir NULL, seed 1, CPU, no progress. */
void valley_exp_config_default(valley_exp_config_t *cfg);

/* ---- inside an experiment ------------------------------------------------------------------ */

typedef struct valley_exp_run valley_exp_run_t;

const valley_exp_config_t *valley_exp_cfg(const valley_exp_run_t *r);
/* The writer of the report's "results" object: the experiment adds its keys there. */
valley_json_t *valley_exp_json(valley_exp_run_t *r);
/* Opens OUT/NAME_suffix.csv (atomic, committed with the report at the end); *f is its stream.
 * At most 16 files per experiment.  EINVAL / EIO. */
valley_status_t valley_exp_csv(valley_exp_run_t *r, const char *suffix, FILE **f,
                               valley_error_t *err);
/* The verdict and its one-line summary with the numbers behind it (printf style). */
void valley_exp_verdict(valley_exp_run_t *r, valley_exp_verdict_t v, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A progress line through cfg->progress (printf style). */
void valley_exp_progress(valley_exp_run_t *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Fashion-MNIST train and test sets, or subsets of n_train and n_test examples drawn with the
 * experiment's seed (0: all).  EINVAL / EIO naming the file. */
valley_status_t valley_exp_load(valley_exp_run_t *r, size_t n_train, size_t n_test,
                                valley_dataset_t *train, valley_dataset_t *test,
                                valley_error_t *err);

/* A trained model: its network (configuration and BN running statistics) and parameters. */
typedef struct {
  valley_mlp_t *net;
  float *theta;
} valley_exp_model_t;

void valley_exp_model_free(valley_exp_model_t *m);

typedef struct {
  valley_mlp_config_t arch;
  valley_sgd_config_t sgd;  /* its seed orders the epochs' shuffles */
  size_t epochs;            /* >= 1 */
  uint64_t init_seed;       /* valley_mlp_init */
  size_t swa_start;         /* 0: no SWA; else average after epoch swa_start (1-based) and every */
  size_t swa_freq;          /* swa_freq epochs after it (>= 1), then recompute the BN statistics */
  /* NULL: start from valley_mlp_init(init_seed); else from start's parameters and running
   * statistics (fine-tuning; start->net must have arch's parameter count) */
  const valley_exp_model_t *start;
  /* NULL, or called after every epoch e (0-based) with the SGD iterate and the epoch's mean
   * training loss; a status other than VALLEY_OK stops the training with that status */
  valley_status_t (*on_epoch)(void *ctx, size_t epoch, const valley_exp_model_t *sgd,
                              double mean_loss, valley_error_t *err);
  void *epoch_ctx;
} valley_exp_train_t;

/* Trains spec on train (a progress line per epoch).  *sgd: the final SGD iterate with its
 * running statistics; *swa (when not NULL and spec->swa_start > 0): the SWA average with BN
 * statistics recomputed over train.  EINVAL / ENOMEM, or spec->on_epoch's status. */
valley_status_t valley_exp_train(valley_exp_run_t *r, const valley_exp_train_t *spec,
                                 const valley_dataset_t *train, valley_exp_model_t *sgd,
                                 valley_exp_model_t *swa, valley_error_t *err);

/* A new model of architecture arch (workspace for batches of up to `batch` rows) initialised by
 * valley_mlp_init(init_seed).  EINVAL / ENOMEM. */
valley_status_t valley_exp_model_init(const valley_mlp_config_t *arch, size_t batch,
                                      uint64_t init_seed, valley_exp_model_t *out,
                                      valley_error_t *err);

/* A copy of m with parameters theta (running statistics copied; the caller may recompute
 * them).  ENOMEM. */
valley_status_t valley_exp_model_copy(const valley_exp_model_t *m, const float *theta,
                                      valley_exp_model_t *out, valley_error_t *err);

/* valley_probe, or valley_probe_cuda when cfg->cuda, with their default configurations. */
valley_status_t valley_exp_probe(valley_exp_run_t *r, const valley_exp_model_t *m, size_t n_dirs,
                                 const float *const *dirs, size_t n_grid, const double *grid,
                                 const valley_dataset_t *train, const valley_dataset_t *test,
                                 valley_prof_t *out, valley_error_t *err);

/* Writes profiles as one CSV "direction,l,train_loss,test_loss,train_acc,test_acc". */
void valley_exp_write_profiles(FILE *f, const char *comment, size_t n, const valley_prof_t *p);

/* A Wilson score interval for k successes in n trials at z (1.96: 95 %). */
void valley_exp_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi);

/* ---- the registry ---------------------------------------------------------------------------- */

typedef struct {
  const char *name;    /* "asym-common" */
  const char *claim;   /* the paper's claim in one line */
  const char *source;  /* "asymmetric-valleys-paper.txt Sec. 3.2, Appendix A" */
  valley_status_t (*run)(valley_exp_run_t *r, valley_error_t *err);
} valley_exp_t;

const valley_exp_t *valley_exp_list(size_t *n);
const valley_exp_t *valley_exp_find(const char *name);

typedef struct {
  valley_exp_verdict_t verdict;
  char summary[512];
  char report[1024]; /* OUT/NAME.json */
  size_t n_files;    /* CSV files written */
  double seconds;
} valley_exp_result_t;

/* Runs e: the report OUT/NAME.json holds "experiment", "claim", "source", "mode", "seed",
 * "device", "results" {...}, "verdict", "summary", "files" and "seconds".  On an error no file
 * is left behind.  An experiment that sets no verdict is an error (EINVAL). */
valley_status_t valley_exp_execute(const valley_exp_t *e, const valley_exp_config_t *cfg,
                                   valley_exp_result_t *res, valley_error_t *err);

#endif
