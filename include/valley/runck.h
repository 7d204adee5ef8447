/* Resumable runs: a file of the pieces of a long run already done, so that an interrupted run
 * (a signal, a crash, a full disk, a lost node) starts again where it stopped and ends with the
 * same bytes as an uninterrupted one (docs/reliability.md, "Checkpoint and resume").
 *
 * The file: one text line
 *     valley-runck 1 <abi> <nblocks> <fingerprint length>\n
 * then the fingerprint (the run's settings, as the caller writes them) and '\n', then records
 * appended one at a time, each written and fsync'ed before the next piece starts:
 *     uint64 block, uint64 length, <length> bytes, uint32 CRC-32 of the previous fields
 * (host byte order; <abi> names it, with the sizes of the C types, so that a file from another
 * kind of machine is refused rather than misread).  A record cut short by a crash, or whose
 * CRC does not match, ends the file: it and everything after it are cut off on open and
 * recomputed.  Any other damage (a header that does not parse, a block number out of range, a
 * block twice) is refused with EINVAL and a message naming the file.
 *
 * Blocks are the caller's: a range of Monte Carlo chains, particles, or a whole training state
 * (valley_runck_save_state, one record, rewritten atomically). */
#ifndef VALLEY_RUNCK_H
#define VALLEY_RUNCK_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"

typedef struct valley_runck valley_runck_t;

/* Opens path for a run of nblocks blocks with the given fingerprint (any bytes but '\0').
 * A missing file is created (with its header, fsync'ed); an existing one must carry the same
 * fingerprint and block count (else EINVAL: "was written by a different run"), and its complete
 * records are read back.  *out is NULL on failure.  EINVAL / ENOMEM / EIO. */
valley_status_t valley_runck_open(const char *path, const char *fingerprint, size_t nblocks,
                                  valley_runck_t **out, valley_error_t *err);

/* Blocks already done (read back on open, or put since). */
size_t valley_runck_done(const valley_runck_t *ck);

/* Block b's bytes and length when it is done, else NULL. */
const void *valley_runck_get(const valley_runck_t *ck, size_t block, size_t *len);

/* Appends block b (not yet done) and fsyncs it.  EINVAL (b out of range or done) / ENOMEM / EIO
 * (the message names the file and the cause, e.g. "No space left on device"); on EIO the file is
 * cut back to its last complete record. */
valley_status_t valley_runck_put(valley_runck_t *ck, size_t block, const void *data, size_t len,
                                 valley_error_t *err);

/* Closes the file; remove != 0 also deletes it (the run's output is written: nothing to resume).
 * ck may be NULL. */
void valley_runck_close(valley_runck_t *ck, int remove);

/* A state that replaces the previous one (a training run after each epoch): writes the header
 * and one record (block 0 of 1) to a temporary file beside path, fsync, rename.  EINVAL / ENOMEM /
 * EIO; on failure path is unchanged and no temporary file is left. */
valley_status_t valley_runck_save_state(const char *path, const char *fingerprint,
                                        const void *data, size_t len, valley_error_t *err);

/* Reads a state written by valley_runck_save_state: *data (malloc'ed, the caller frees) and *len;
 * VALLEY_OK with *data NULL when path does not exist.  A different fingerprint, or a damaged or
 * cut file, is EINVAL naming the file. */
valley_status_t valley_runck_load_state(const char *path, const char *fingerprint, void **data,
                                        size_t *len, valley_error_t *err);

/* Removes what a run killed in the middle of an atomic write (SIGKILL, a power cut) leaves beside
 * path: files named "<path>.tmp.XXXXXX" (six characters, mkstemp's), valley's temporary names.
 * Called before a resumed run writes path again. */
void valley_runck_remove_stale(const char *path);

#endif
