/* MST: saving the fitted model to an HDF5 group and loading it back.
 *
 * Attributes: model ("mst"), n_attributes, n_train_rows and ledger (the privacy ledger
 * as JSON). Datasets, per attribute: type, n_values, n_comp, bin_lo, bin_width, parent,
 * order; concatenated over attributes in index order: comp_of and noisy_1way (n_values
 * each), joint (the root's n_comp, a child's (n_comp[parent], n_comp)) and noisy_2way
 * (children only). The compressed-bucket members and the alias tables are rebuilt on
 * load from these, by the same code as after a fit.
 */
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "models/mst.h"

/* Values of attribute j's joint table (root: 1-way). */
static int64_t joint_size(const mst_state *st, int j) {
  int p = st->parent[j];
  return (int64_t)st->attrs[j].n_comp * (p >= 0 ? st->attrs[p].n_comp : 1);
}

/* The flattened state, as saved. */
typedef struct mst_arrays {
  int64_t *type, *n_values, *n_comp, *parent, *order, *comp_of; /* (n), (n), ... (values) */
  double *lo, *width, *noisy, *joint, *noisy2;
  int64_t values, joints, edges; /* lengths of comp_of/noisy, joint, noisy_2way */
} mst_arrays;

static void arrays_free(mst_arrays *a) {
  free(a->type);
  free(a->n_values);
  free(a->n_comp);
  free(a->parent);
  free(a->order);
  free(a->comp_of);
  free(a->lo);
  free(a->width);
  free(a->noisy);
  free(a->joint);
  free(a->noisy2);
  memset(a, 0, sizeof *a);
}

/* Flatten st into a (local). */
static int arrays_from_state(sm_ctx *ctx, const mst_state *st, mst_arrays *a) {
  int n = st->n_attrs;
  memset(a, 0, sizeof *a);
  for (int j = 0; j < n; j++) {
    a->values += st->attrs[j].n_values;
    a->joints += joint_size(st, j);
    a->edges += st->parent[j] >= 0 ? joint_size(st, j) : 0;
  }
  size_t m = (size_t)(n > 0 ? n : 1);
  a->type = sm_malloc(ctx, m * sizeof(int64_t));
  a->n_values = sm_malloc(ctx, m * sizeof(int64_t));
  a->n_comp = sm_malloc(ctx, m * sizeof(int64_t));
  a->parent = sm_malloc(ctx, m * sizeof(int64_t));
  a->order = sm_malloc(ctx, m * sizeof(int64_t));
  a->lo = sm_malloc(ctx, m * sizeof(double));
  a->width = sm_malloc(ctx, m * sizeof(double));
  a->comp_of = sm_malloc(ctx, (size_t)(a->values + 1) * sizeof(int64_t));
  a->noisy = sm_malloc(ctx, (size_t)(a->values + 1) * sizeof(double));
  a->joint = sm_malloc(ctx, (size_t)(a->joints + 1) * sizeof(double));
  a->noisy2 = sm_malloc(ctx, (size_t)(a->edges + 1) * sizeof(double));
  if (!a->type || !a->n_values || !a->n_comp || !a->parent || !a->order || !a->lo || !a->width ||
      !a->comp_of || !a->noisy || !a->joint || !a->noisy2)
    return SM_ERR;

  /* per attribute, then the concatenations */
  int64_t v = 0, t = 0, e = 0;
  for (int j = 0; j < n; j++) {
    const mst_attr *at = &st->attrs[j];
    a->type[j] = at->type, a->n_values[j] = at->n_values, a->n_comp[j] = at->n_comp;
    a->parent[j] = st->parent[j], a->order[j] = st->order[j];
    a->lo[j] = at->lo, a->width[j] = at->width;
    for (int k = 0; k < at->n_values; k++, v++) {
      a->comp_of[v] = at->comp_of[k];
      a->noisy[v] = at->noisy[k];
    }
    int64_t js = joint_size(st, j);
    memcpy(a->joint + t, st->joint[j], (size_t)js * sizeof(double));
    t += js;
    if (st->parent[j] >= 0) {
      memcpy(a->noisy2 + e, st->noisy2[j], (size_t)js * sizeof(double));
      e += js;
    }
  }
  return SM_OK;
}

/* Collective: every rank makes the same calls; rank 0's data is written. */
static int write_group(sm_ctx *ctx, hid_t g, const mst_state *st, const mst_arrays *a,
                       const char *ledger) {
  int n = st->n_attrs;
  SM_TRY(sm_h5_attr_str(ctx, g, "model", "mst"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "n_attributes", n));
  SM_TRY(sm_h5_attr_i64(ctx, g, "n_train_rows", st->n_train));
  SM_TRY(sm_h5_attr_str(ctx, g, "ledger", ledger));
  SM_TRY(sm_h5_write_i64(ctx, g, "type", a->type, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "n_values", a->n_values, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "n_comp", a->n_comp, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "parent", a->parent, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "order", a->order, n));
  SM_TRY(sm_h5_write_f64(ctx, g, "bin_lo", a->lo, n));
  SM_TRY(sm_h5_write_f64(ctx, g, "bin_width", a->width, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "comp_of", a->comp_of, a->values));
  SM_TRY(sm_h5_write_f64(ctx, g, "noisy_1way", a->noisy, a->values));
  SM_TRY(sm_h5_write_f64(ctx, g, "joint", a->joint, a->joints));
  return sm_h5_write_f64(ctx, g, "noisy_2way", a->noisy2, a->edges);
}

int sm_mst_save(sm_ctx *ctx, const void *state, int64_t group) {
  const mst_state *st = state;
  mst_arrays a;
  char *ledger = sm_ledger_to_json(&st->ledger);
  int rc = arrays_from_state(ctx, st, &a);
  if (rc == SM_OK && !ledger)
    rc = sm_fail(ctx, SM_ERR, "out of memory writing the privacy ledger");
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = write_group(ctx, (hid_t)group, st, &a, ledger);
  arrays_free(&a);
  free(ledger);
  return sm_agree(ctx, rc);
}

/* ---- load ------------------------------------------------------------------------------- */

/* The order must be a permutation with the root first and every parent before its
 * children (sampling relies on it). */
static int check_tree(sm_ctx *ctx, const mst_arrays *a, int n) {
  int *pos = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(int)), rc = pos ? SM_OK : SM_ERR;
  for (int j = 0; rc == SM_OK && j < n; j++)
    pos[j] = -1;
  for (int k = 0; rc == SM_OK && k < n; k++) {
    if (pos[a->order[k]] >= 0)
      rc = sm_fail(ctx, SM_EINPUT, "model tree: attribute %lld twice in the order",
                   (long long)a->order[k]);
    else
      pos[a->order[k]] = k;
  }
  for (int j = 0; rc == SM_OK && j < n; j++) {
    int64_t p = a->parent[j];
    if ((p < 0) != (pos[j] == 0) || (p >= 0 && pos[p] >= pos[j]))
      rc = sm_fail(ctx, SM_EINPUT, "model tree: attribute %d and its parent are out of order", j);
  }
  free(pos);
  return rc;
}

/* Per-attribute sizes and the tree must make sense before anything is indexed. */
static int check_attrs(sm_ctx *ctx, const mst_arrays *a, int n) {
  for (int j = 0; j < n; j++) {
    int bad = a->n_values[j] < 1 || a->n_values[j] > (1 << 24) || a->n_comp[j] < 1 ||
              a->n_comp[j] > a->n_values[j] || a->parent[j] < -1 || a->parent[j] >= n ||
              a->order[j] < 0 || a->order[j] >= n || a->type[j] < 0 || a->type[j] > 4;
    if (bad)
      return sm_fail(ctx, SM_EINPUT, "model attribute %d has bad sizes or tree links", j);
  }
  return check_tree(ctx, a, n);
}

/* Read the per-attribute arrays and the concatenations (local reads). */
static int read_arrays(sm_ctx *ctx, hid_t g, int n, mst_arrays *a) {
  memset(a, 0, sizeof *a);
  SM_TRY(sm_h5_read_i64_n(ctx, g, "type", n, &a->type));
  SM_TRY(sm_h5_read_i64_n(ctx, g, "n_values", n, &a->n_values));
  SM_TRY(sm_h5_read_i64_n(ctx, g, "n_comp", n, &a->n_comp));
  SM_TRY(sm_h5_read_i64_n(ctx, g, "parent", n, &a->parent));
  SM_TRY(sm_h5_read_i64_n(ctx, g, "order", n, &a->order));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "bin_lo", n, &a->lo));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "bin_width", n, &a->width));
  SM_TRY(check_attrs(ctx, a, n));
  for (int j = 0; j < n; j++) {
    int64_t p = a->parent[j], js = a->n_comp[j] * (p >= 0 ? a->n_comp[p] : 1);
    a->values += a->n_values[j];
    a->joints += js;
    a->edges += p >= 0 ? js : 0;
  }
  SM_TRY(sm_h5_read_i64_n(ctx, g, "comp_of", a->values, &a->comp_of));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "noisy_1way", a->values, &a->noisy));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "joint", a->joints, &a->joint));
  return sm_h5_read_f64_n(ctx, g, "noisy_2way", a->edges, &a->noisy2);
}

/* Copy one attribute's arrays into st (local); v, t, e advance through a. */
static int attr_from_arrays(sm_ctx *ctx, mst_state *st, int j, const mst_arrays *a, int64_t *v,
                            int64_t *t, int64_t *e) {
  mst_attr *at = &st->attrs[j];
  at->type = (int)a->type[j], at->n_values = (int)a->n_values[j], at->n_comp = (int)a->n_comp[j];
  at->lo = a->lo[j], at->width = a->width[j];
  st->parent[j] = (int)a->parent[j], st->order[j] = (int)a->order[j];
  at->comp_of = sm_malloc(ctx, (size_t)at->n_values * sizeof(int));
  at->noisy = sm_malloc(ctx, (size_t)at->n_values * sizeof(double));
  if (!at->comp_of || !at->noisy)
    return SM_ERR;
  for (int k = 0; k < at->n_values; k++, (*v)++) {
    if (a->comp_of[*v] < 0 || a->comp_of[*v] >= at->n_comp)
      return sm_fail(ctx, SM_EINPUT, "model attribute %d: compressed value out of range", j);
    at->comp_of[k] = (int)a->comp_of[*v];
    at->noisy[k] = a->noisy[*v];
  }

  /* the joint table and, for a child, its noisy measurement */
  int64_t p = a->parent[j], js = (int64_t)at->n_comp * (p >= 0 ? a->n_comp[p] : 1);
  st->joint[j] = sm_malloc(ctx, (size_t)js * sizeof(double));
  st->noisy2[j] = p >= 0 ? sm_malloc(ctx, (size_t)js * sizeof(double)) : NULL;
  if (!st->joint[j] || (p >= 0 && !st->noisy2[j]))
    return SM_ERR;
  memcpy(st->joint[j], a->joint + *t, (size_t)js * sizeof(double));
  *t += js;
  if (p >= 0) {
    memcpy(st->noisy2[j], a->noisy2 + *e, (size_t)js * sizeof(double));
    *e += js;
  }
  return sm_mst_attr_members(ctx, at);
}

static int load_into(sm_ctx *ctx, hid_t g, mst_state **out) {
  int64_t n = 0;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "n_attributes", &n));
  if (n < 0 || n > 1000000)
    return sm_fail(ctx, SM_EINPUT, "model has a bad attribute count %lld", (long long)n);
  mst_state *st = sm_mst_state_alloc(ctx, (int)n);
  if (!st)
    return SM_ERR;
  *out = st;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "n_train_rows", &st->n_train));
  char *json = NULL;
  SM_TRY(sm_h5_get_attr_str(ctx, g, "ledger", &json));
  int rc = sm_ledger_from_json(ctx, json, &st->ledger);
  free(json);
  SM_TRY(rc);

  /* arrays, attributes, then the sampling tables */
  mst_arrays a;
  rc = read_arrays(ctx, g, (int)n, &a);
  int64_t v = 0, t = 0, e = 0;
  for (int j = 0; rc == SM_OK && j < n; j++)
    rc = attr_from_arrays(ctx, st, j, &a, &v, &t, &e);
  arrays_free(&a);
  return rc == SM_OK ? sm_mst_build_alias(ctx, st) : rc;
}

int sm_mst_load(sm_ctx *ctx, int64_t group, void **state) {
  mst_state *st = NULL;
  int rc = sm_agree(ctx, load_into(ctx, (hid_t)group, &st));
  if (rc != SM_OK) {
    sm_mst_free(st);
    return rc;
  }
  *state = st;
  return SM_OK;
}
