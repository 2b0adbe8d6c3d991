/* The privacy ledger and the randomness differential privacy relies on. */
#include "synthmpi/ledger.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "synthmpi/rng.h"

#define LEDGER_UNIT "one person (a table row; both haplotypes of one individual)"

int sm_ledger_add(sm_ctx *ctx, sm_ledger *l, const sm_ledger_entry *e) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 8;
    sm_ledger_entry *grown = realloc(l->entries, (size_t)cap * sizeof *grown);
    if (!grown)
      return sm_fail(ctx, SM_ERR, "out of memory growing the privacy ledger");
    l->entries = grown;
    l->cap = cap;
  }
  l->entries[l->n++] = *e;
  return SM_OK;
}

void sm_ledger_free(sm_ledger *l) {
  if (!l)
    return;
  free(l->entries);
  memset(l, 0, sizeof *l);
}

static cJSON *entry_to_json(const sm_ledger_entry *e) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "mechanism", e->mechanism);
  cJSON_AddStringToObject(o, "accountant", e->accountant);
  cJSON_AddNumberToObject(o, "sample_rate", e->sample_rate);
  cJSON_AddNumberToObject(o, "noise_multiplier", e->noise_multiplier);
  cJSON_AddNumberToObject(o, "steps", (double)e->steps);
  cJSON_AddNumberToObject(o, "rho", e->rho);
  cJSON_AddNumberToObject(o, "epsilon", e->epsilon);
  cJSON_AddNumberToObject(o, "delta", e->delta);
  cJSON_AddStringToObject(o, "note", e->note);
  return o;
}

char *sm_ledger_to_json(const sm_ledger *l) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "unit_of_privacy", LEDGER_UNIT);
  cJSON_AddBoolToObject(root, "row_count_public", 1);
  cJSON_AddBoolToObject(root, "private", !l->reproducible);
  cJSON_AddBoolToObject(root, "reproducible_test_mode", l->reproducible);
  cJSON_AddNumberToObject(root, "epsilon_budget", l->epsilon_budget);
  cJSON_AddNumberToObject(root, "epsilon_spent", l->epsilon_total);
  cJSON_AddNumberToObject(root, "delta", l->delta);
  cJSON *list = cJSON_AddArrayToObject(root, "mechanisms");
  for (int i = 0; i < l->n; i++)
    cJSON_AddItemToArray(list, entry_to_json(&l->entries[i]));
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

/* Copy a JSON string member into a fixed buffer (empty when absent). */
static void get_string(const cJSON *o, const char *name, char *buf, size_t size) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  snprintf(buf, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static double get_number(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int sm_ledger_from_json(sm_ctx *ctx, const char *json, sm_ledger *l) {
  memset(l, 0, sizeof *l);
  cJSON *root = cJSON_Parse(json);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "mechanisms");
  if (!root || !cJSON_IsArray(list)) {
    cJSON_Delete(root);
    return sm_fail(ctx, SM_EINPUT, "the privacy ledger is not valid JSON");
  }

  /* totals, then one entry per mechanism */
  l->epsilon_budget = get_number(root, "epsilon_budget");
  l->epsilon_total = get_number(root, "epsilon_spent");
  l->delta = get_number(root, "delta");
  l->reproducible = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "reproducible_test_mode"));
  const cJSON *item;
  int rc = SM_OK;
  cJSON_ArrayForEach(item, list) {
    sm_ledger_entry e;
    memset(&e, 0, sizeof e);
    get_string(item, "mechanism", e.mechanism, sizeof e.mechanism);
    get_string(item, "accountant", e.accountant, sizeof e.accountant);
    get_string(item, "note", e.note, sizeof e.note);
    e.sample_rate = get_number(item, "sample_rate");
    e.noise_multiplier = get_number(item, "noise_multiplier");
    e.steps = (int64_t)get_number(item, "steps");
    e.rho = get_number(item, "rho");
    e.epsilon = get_number(item, "epsilon");
    e.delta = get_number(item, "delta");
    if ((rc = sm_ledger_add(ctx, l, &e)) != SM_OK)
      break;
  }
  cJSON_Delete(root);
  return rc;
}

void sm_dp_rng_init(sm_dp_rng *r, int reproducible, uint64_t seed) {
  r->reproducible = reproducible;
  r->seed = seed;
  r->counter = 0;
}

/* 64 random bits: getrandom(2), or the reproducible test stream. */
static int random_u64(sm_ctx *ctx, sm_dp_rng *r, uint64_t *out) {
  if (r->reproducible) {
    sm_rng s;
    sm_rng_init(&s, r->seed, SM_STREAM_TEST, r->counter++);
    *out = ((uint64_t)sm_rng_u32(&s) << 32) | sm_rng_u32(&s);
    return SM_OK;
  }
  size_t got = 0;
  while (got < sizeof *out) {
    ssize_t n = getrandom((char *)out + got, sizeof *out - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return sm_fail(ctx, SM_ERR, "the system's secure random generator failed: %s",
                     strerror(errno));
    got += (size_t)n;
  }
  return SM_OK;
}

int sm_dp_uniform(sm_ctx *ctx, sm_dp_rng *r, double *u) {
  uint64_t bits;
  SM_TRY(random_u64(ctx, r, &bits));
  *u = ((double)(bits >> 11) + 0.5) * 0x1.0p-53;
  return SM_OK;
}

int sm_dp_normal(sm_ctx *ctx, sm_dp_rng *r, double *z) {
  /* Box-Muller from two secure uniforms; one normal per call keeps no state */
  double u1, u2;
  SM_TRY(sm_dp_uniform(ctx, r, &u1));
  SM_TRY(sm_dp_uniform(ctx, r, &u2));
  *z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
  return SM_OK;
}
