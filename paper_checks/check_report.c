/* The report of `valley check`: report.json, report.md and index.html (docs/check.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks_internal.h"

static const char *const css_class[] = {"pass", "fail", "notrep", "inconc", "skip"};

static const char *verdict_or_error(const valley_check_result_t *x) {
  return x->ran ? valley_check_verdict_name(x->verdict) : "ERROR";
}

static const char *klass(const valley_check_result_t *x) {
  return x->ran ? css_class[x->verdict] : "error";
}

/* s with &, <, >, " escaped */
static void html(FILE *f, const char *s) {
  for (; *s; s++) switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
}

/* s with | and newlines made safe for a Markdown table cell */
static void md_cell(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '|') fputs("\\|", f);
    else if (*s == '\n') fputc(' ', f);
    else fputc(*s, f);
  }
}

static FILE *open_in(const char *dir, const char *name, char **path, valley_error_t *err,
                     valley_status_t *st) {
  size_t len = strlen(dir) + strlen(name) + 2;
  *path = malloc(len);
  if (*path == NULL) {
    *st = VALLEY_ERROR(err, VALLEY_ENOMEM, "a file name");
    return NULL;
  }
  snprintf(*path, len, "%s/%s", dir, name);
  FILE *f = fopen(*path, "wx");
  if (f == NULL) *st = VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", *path, strerror(errno));
  return f;
}

static valley_status_t close_checked(FILE *f, const char *path, valley_error_t *err) {
  int e = valley_fflush_errno(f);
  if (fclose(f) != 0 && e == 0) e = errno;
  return e != 0 ? VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", path, strerror(e))
                : VALLEY_OK;
}

static void counts(const valley_check_report_t *rep, size_t c[6]) {
  memset(c, 0, 6 * sizeof c[0]);
  for (size_t i = 0; i < rep->n; i++)
    c[rep->results[i].ran ? (size_t)rep->results[i].verdict : 5]++;
}

static void write_json(FILE *f, const valley_check_config_t *cfg, const valley_check_report_t *rep,
                       const char *const *numbers) {
  valley_json_t j;
  valley_json_begin(&j, f);
  valley_json_string(&j, "valley_version", VALLEY_VERSION);
  valley_json_build(&j);
  valley_json_string(&j, "scale", valley_check_scale_name(cfg->scale));
  valley_json_u64(&j, "seed", cfg->seed);
  valley_json_bool(&j, "figures_rendered", rep->gnuplot);
  if (!rep->gnuplot) valley_json_string(&j, "figures_note", rep->gnuplot_note);
  valley_json_number(&j, "seconds", rep->seconds);
  size_t c[6];
  counts(rep, c);
  valley_json_object(&j, "counts");
  for (int k = 0; k < 5; k++) valley_json_u64(&j, valley_check_verdict_name((valley_check_verdict_t)k), c[k]);
  valley_json_u64(&j, "ERROR", c[5]);
  valley_json_object_end(&j);
  valley_json_array(&j, "checks");
  for (size_t i = 0; i < rep->n; i++) {
    const valley_check_result_t *x = &rep->results[i];
    valley_json_object(&j, NULL);
    valley_json_string(&j, "name", x->check->name);
    valley_json_string(&j, "paper", x->check->paper);
    valley_json_string(&j, "where", x->check->where);
    valley_json_string(&j, "claim", x->check->sentence);
    valley_json_string(&j, "command", x->check->command);
    valley_json_bool(&j, "ran", x->ran);
    valley_json_string(&j, "verdict", verdict_or_error(x));
    valley_json_string(&j, "summary", x->summary);
    valley_json_number(&j, "seconds", x->seconds);
    valley_json_array(&j, "figures");
    for (size_t k = 0; k < x->n_figures; k++) {
      const valley_check_figure_t *g = &x->figures[k];
      char p[96];
      valley_json_object(&j, NULL);
      valley_json_string(&j, "name", g->name);
      valley_json_string(&j, "caption", g->caption);
      snprintf(p, sizeof p, "figures/%s.csv", g->name);
      valley_json_string(&j, "data", p);
      snprintf(p, sizeof p, "figures/%s.gp", g->name);
      valley_json_string(&j, "script", p);
      valley_json_bool(&j, "rendered", g->rendered);
      if (g->rendered) {
        snprintf(p, sizeof p, "figures/%s.png", g->name);
        valley_json_string(&j, "png", p);
        snprintf(p, sizeof p, "figures/%s.svg", g->name);
        valley_json_string(&j, "svg", p);
      }
      valley_json_object_end(&j);
    }
    valley_json_array_end(&j);
    if (numbers[i] != NULL) valley_json_raw(&j, "numbers", numbers[i]);
    else valley_json_null(&j, "numbers");
    valley_json_object_end(&j);
  }
  valley_json_array_end(&j);
  valley_json_end(&j);
}

static void write_md(FILE *f, const valley_check_config_t *cfg, const valley_check_report_t *rep) {
  size_t c[6];
  counts(rep, c);
  fprintf(f, "# valley check\n\nvalley %s, scale %s, seed %llu, %.1f s. ", VALLEY_VERSION,
          valley_check_scale_name(cfg->scale), (unsigned long long)cfg->seed, rep->seconds);
  fprintf(f, "%zu checks: %zu PASS, %zu FAIL, %zu NOT REPRODUCED, %zu INCONCLUSIVE, %zu SKIPPED, "
             "%zu could not run.\n\n",
          rep->n, c[0], c[1], c[2], c[3], c[4], c[5]);
  if (!rep->gnuplot) fprintf(f, "**Figures:** %s.\n\n", rep->gnuplot_note);
  fputs("| check | paper | where | verdict | numbers | command |\n|---|---|---|---|---|---|\n", f);
  for (size_t i = 0; i < rep->n; i++) {
    const valley_check_result_t *x = &rep->results[i];
    fprintf(f, "| [%s](#%s) | %s | ", x->check->name, x->check->name, x->check->paper);
    md_cell(f, x->check->where);
    fprintf(f, " | **%s** | ", verdict_or_error(x));
    md_cell(f, x->summary);
    fputs(" | `", f);
    md_cell(f, x->check->command);
    fputs("` |\n", f);
  }
  for (size_t i = 0; i < rep->n; i++) {
    const valley_check_result_t *x = &rep->results[i];
    fprintf(f, "\n## %s\n\n%s, %s: \"%s\"\n\n**%s** (%.1f s): %s\n\nRerun: `%s`\n", x->check->name,
            x->check->paper, x->check->where, x->check->sentence, verdict_or_error(x), x->seconds,
            x->summary, x->check->command);
    for (size_t k = 0; k < x->n_figures; k++) {
      const valley_check_figure_t *g = &x->figures[k];
      if (g->rendered) fprintf(f, "\n![%s](figures/%s.png)\n", g->name, g->name);
      fprintf(f, "\n*%s* Data: [figures/%s.csv](figures/%s.csv), script: "
                 "[figures/%s.gp](figures/%s.gp)%s\n",
              g->caption, g->name, g->name, g->name, g->name,
              g->rendered ? "" : " (not rendered)");
    }
  }
}

static void write_html(FILE *f, const valley_check_config_t *cfg, const valley_check_report_t *rep,
                       const char *const *numbers) {
  size_t c[6];
  counts(rep, c);
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>valley check</title>\n<style>\n"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\n"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 6px;"
        "vertical-align:top;font-size:0.92em}th{background:#f2f2f2}\n"
        ".pass{background:#d8f3dc}.fail{background:#f8d7da}.notrep{background:#ffe5b4}"
        ".inconc{background:#fff3bf}.skip{background:#e9ecef}.error{background:#f5c2c7}\n"
        "code{background:#f6f8fa;padding:1px 3px}figure{margin:1em 0}img{max-width:100%;"
        "border:1px solid #ddd}figcaption{font-size:0.9em;color:#444}\n"
        "section{border-top:1px solid #ccc;margin-top:2em}\n</style>\n</head>\n<body>\n"
        "<h1>valley check</h1>\n",
        f);
  fprintf(f, "<p>valley %s, scale %s, seed %llu, %.1f s. %zu checks: %zu PASS, %zu FAIL, %zu NOT "
             "REPRODUCED, %zu INCONCLUSIVE, %zu SKIPPED, %zu could not run.</p>\n",
          VALLEY_VERSION, valley_check_scale_name(cfg->scale), (unsigned long long)cfg->seed,
          rep->seconds, rep->n, c[0], c[1], c[2], c[3], c[4], c[5]);
  if (!rep->gnuplot) {
    fputs("<p class=\"skip\"><b>Figures:</b> ", f);
    html(f, rep->gnuplot_note);
    fputs(".</p>\n", f);
  }
  fputs("<table id=\"summary\">\n<tr><th>check</th><th>paper</th><th>where</th><th>verdict</th>"
        "<th>numbers</th><th>command</th></tr>\n",
        f);
  for (size_t i = 0; i < rep->n; i++) {
    const valley_check_result_t *x = &rep->results[i];
    fprintf(f, "<tr class=\"claim\" data-check=\"%s\"><td><a href=\"#%s\">%s</a></td><td>",
            x->check->name, x->check->name, x->check->name);
    html(f, x->check->paper);
    fputs("</td><td>", f);
    html(f, x->check->where);
    fprintf(f, "</td><td class=\"%s\"><b>%s</b></td><td>", klass(x), verdict_or_error(x));
    html(f, x->summary);
    fputs("</td><td><code>", f);
    html(f, x->check->command);
    fputs("</code></td></tr>\n", f);
  }
  fputs("</table>\n", f);
  for (size_t i = 0; i < rep->n; i++) {
    const valley_check_result_t *x = &rep->results[i];
    fprintf(f, "<section id=\"%s\">\n<h2>%s</h2>\n<p>", x->check->name, x->check->name);
    html(f, x->check->paper);
    fputs(", ", f);
    html(f, x->check->where);
    fputs(": &ldquo;", f);
    html(f, x->check->sentence);
    fprintf(f, "&rdquo;</p>\n<p class=\"%s\"><b>%s</b> (%.1f s): ", klass(x), verdict_or_error(x),
            x->seconds);
    html(f, x->summary);
    fputs("</p>\n<p>Rerun: <code>", f);
    html(f, x->check->command);
    fputs("</code></p>\n", f);
    for (size_t k = 0; k < x->n_figures; k++) {
      const valley_check_figure_t *g = &x->figures[k];
      fputs("<figure>\n", f);
      if (g->rendered)
        fprintf(f, "<img src=\"figures/%s.png\" alt=\"%s\">\n", g->name, g->name);
      fputs("<figcaption>", f);
      html(f, g->caption);
      fprintf(f, " Data: <a href=\"figures/%s.csv\">%s.csv</a>, script: <a "
                 "href=\"figures/%s.gp\">%s.gp</a>",
              g->name, g->name, g->name, g->name);
      if (g->rendered) fprintf(f, ", <a href=\"figures/%s.svg\">SVG</a>", g->name);
      else fputs(" (not rendered)", f);
      fputs("</figcaption>\n</figure>\n", f);
    }
    if (numbers[i] != NULL) {
      fputs("<details><summary>numbers</summary><pre>", f);
      html(f, numbers[i]);
      fputs("</pre></details>\n", f);
    }
    fputs("</section>\n", f);
  }
  /* For readers and tests alike: how many pictures the browser actually loaded. */
  fputs("<script>\nwindow.addEventListener('load', function () {\n"
        "  var im = document.images, ok = 0;\n"
        "  for (var i = 0; i < im.length; i++) if (im[i].complete && im[i].naturalWidth > 0) ok++;\n"
        "  document.body.setAttribute('data-images', im.length);\n"
        "  document.body.setAttribute('data-images-loaded', ok);\n"
        "});\n</script>\n</body>\n</html>\n",
        f);
}

valley_status_t valley_check_write_reports(const valley_check_config_t *cfg,
                                           const valley_check_report_t *rep,
                                           const char *const *numbers, const char *dir,
                                           valley_error_t *err) {
  valley_status_t st = VALLEY_OK;
  char *path = NULL;
  FILE *f = open_in(dir, "report.json", &path, err, &st);
  if (f != NULL) {
    write_json(f, cfg, rep, numbers);
    st = close_checked(f, path, err);
  }
  free(path);
  if (st != VALLEY_OK) return st;
  f = open_in(dir, "report.md", &path, err, &st);
  if (f != NULL) {
    write_md(f, cfg, rep);
    st = close_checked(f, path, err);
  }
  free(path);
  if (st != VALLEY_OK) return st;
  f = open_in(dir, "index.html", &path, err, &st);
  if (f != NULL) {
    write_html(f, cfg, rep, numbers);
    st = close_checked(f, path, err);
  }
  free(path);
  return st;
}
