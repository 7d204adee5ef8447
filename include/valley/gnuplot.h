/* gnuplot at run time (plots/gnuplot.c): the scripts valley writes for its figures, and their
 * rendering to PNG (pngcairo) and SVG by the gnuplot found on PATH. */
#ifndef VALLEY_GNUPLOT_H
#define VALLEY_GNUPLOT_H

#include <stdio.h>

/* Writes to f a script that draws the figure `name` from name.csv in the script's own
 * directory, to name.png and then name.svg, with the gnuplot commands `body` (one plot command,
 * the data file as the string variable DATA, no terminal or output; NULL: none).  The first
 * lines are comments: the figure's name, `origin` (what made it) and its caption. */
void valley_gnuplot_script_write(FILE *f, const char *name, const char *origin,
                                 const char *caption, const char *body);

/* The first executable "gnuplot" on PATH (malloc'ed), or NULL. */
char *valley_gnuplot_find(void);

/* Runs `gnuplot name.gp` in dir, at most timeout_s seconds (then kills it); stdin from
 * /dev/null, messages to stderr.  1 when it exited 0 and name.png and name.svg are there and not
 * empty, else 0, with neither picture left (no half-written picture stays in the report). */
int valley_gnuplot_render(const char *gnuplot, const char *dir, const char *name, int timeout_s);

#endif
