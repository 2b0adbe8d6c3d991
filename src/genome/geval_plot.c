/* The PCA plot: an SVG scatter of PC1 against PC2, real rows and synthetic rows in two
 * colours, with labelled axes and a legend. Written beside its path and renamed into
 * place, so a reader never sees half a plot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "genome/geval_internal.h"

/* Canvas and plotting area, in SVG user units. */
enum {
  PLOT_W = 640,
  PLOT_H = 480,
  PLOT_LEFT = 80,
  PLOT_RIGHT = 20,
  PLOT_TOP = 56,
  PLOT_BOTTOM = 60,
  PLOT_TICKS = 5
};

#define PLOT_REAL_COLOUR "#1f77b4"
#define PLOT_SYNTH_COLOUR "#d62728"

/* A data range mapped onto a pixel range. */
typedef struct plot_axis {
  double lo, hi; /* data range, padded */
  double p0, p1; /* pixel positions of lo and hi */
} plot_axis;

static plot_axis axis_of(const double *x, int64_t n, double p0, double p1) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    lo = fmin(lo, x[i]);
    hi = fmax(hi, x[i]);
  }
  if (!(hi > lo))
    lo = (n > 0 ? lo : 0) - 1, hi = lo + 2;
  double pad = 0.05 * (hi - lo);
  return (plot_axis){lo - pad, hi + pad, p0, p1};
}

static double axis_px(const plot_axis *a, double x) {
  return a->p0 + (x - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* Frame, ticks with values, and the two axis titles. */
static void write_axes(FILE *fp, const plot_axis *ax, const plot_axis *ay,
                       const double *explained) {
  int right = PLOT_W - PLOT_RIGHT, bottom = PLOT_H - PLOT_BOTTOM;
  fprintf(fp,
          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
          "stroke=\"black\"/>\n",
          PLOT_LEFT, PLOT_TOP, right - PLOT_LEFT, bottom - PLOT_TOP);
  for (int t = 0; t <= PLOT_TICKS; t++) {
    double vx = ax->lo + (ax->hi - ax->lo) * t / PLOT_TICKS;
    double vy = ay->lo + (ay->hi - ay->lo) * t / PLOT_TICKS;
    double px = axis_px(ax, vx), py = axis_px(ay, vy);
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>\n", px,
            bottom, px, bottom + 5);
    fprintf(fp, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n", px, bottom + 20,
            vx);
    fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n",
            PLOT_LEFT - 5, py, PLOT_LEFT, py);
    fprintf(fp, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", PLOT_LEFT - 8,
            py + 4, vy);
  }
  fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">PC1 (%.1f%% of variance)</text>\n",
          (PLOT_LEFT + right) / 2, PLOT_H - 15, 100 * explained[0]);
  fprintf(fp,
          "<text transform=\"translate(20,%d) rotate(-90)\" text-anchor=\"middle\">"
          "PC2 (%.1f%% of variance)</text>\n",
          (PLOT_TOP + bottom) / 2, 100 * explained[1]);
}

/* One set's points, then its legend entry in place `slot`. */
static void write_points(FILE *fp, const plot_axis *ax, const plot_axis *ay, const double *x,
                         const double *y, int64_t n, const char *colour, const char *name,
                         int slot) {
  fprintf(fp, "<g fill=\"%s\" fill-opacity=\"0.5\" class=\"%s\">\n", colour, name);
  for (int64_t i = 0; i < n; i++)
    fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\"/>\n", axis_px(ax, x[i]),
            axis_px(ay, y[i]));
  fprintf(fp, "</g>\n");
  int lx = PLOT_LEFT + 10 + 220 * slot, ly = PLOT_TOP - 12; /* above the frame */
  fprintf(fp, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/>\n", lx, ly - 4, colour);
  fprintf(fp, "<text x=\"%d\" y=\"%d\">%s (%lld rows)</text>\n", lx + 10, ly, name, (long long)n);
}

static void write_svg(FILE *fp, const double *x, const double *y, int64_t n_real, int64_t n_synth,
                      const double *explained) {
  int64_t n = n_real + n_synth;
  plot_axis ax = axis_of(x, n, PLOT_LEFT, PLOT_W - PLOT_RIGHT);
  plot_axis ay = axis_of(y, n, PLOT_H - PLOT_BOTTOM, PLOT_TOP);
  fprintf(fp,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
          PLOT_W, PLOT_H, PLOT_W, PLOT_H);
  fprintf(fp, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  fprintf(fp,
          "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">"
          "PCA of real and synthetic rows</text>\n",
          PLOT_W / 2);
  write_axes(fp, &ax, &ay, explained);
  write_points(fp, &ax, &ay, x, y, n_real, PLOT_REAL_COLOUR, "real", 0);
  write_points(fp, &ax, &ay, x + n_real, y + n_real, n_synth, PLOT_SYNTH_COLOUR, "synthetic", 1);
  fprintf(fp, "</svg>\n");
}

int sm_geval_plot(sm_ctx *ctx, const char *path, const double *x, const double *y, int64_t n_real,
                  int64_t n_synth, const double *explained) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.partial", path) >= (int)sizeof tmp)
    return sm_fail(ctx, SM_EINPUT, "PCA plot path too long: %s", path);

  /* write beside the target, then rename into place */
  FILE *fp = fopen(tmp, "w");
  if (!fp)
    return sm_fail(ctx, SM_ERR, "cannot write PCA plot %s: %s", tmp, strerror(errno));
  write_svg(fp, x, y, n_real, n_synth, explained);
  int bad = ferror(fp);
  if (fclose(fp) != 0 || bad) {
    remove(tmp);
    return sm_fail(ctx, SM_ERR, "cannot write PCA plot %s: %s", tmp, strerror(errno));
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return sm_fail(ctx, SM_ERR, "cannot rename PCA plot to %s: %s", path, strerror(e));
  }
  return SM_OK;
}
