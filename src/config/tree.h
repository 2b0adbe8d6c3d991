/* Private: the experiment file as a tree of YAML nodes that remember where they were written.
 *
 * The tree is built from libyaml's parser events. It refuses what an experiment never needs
 * and a hostile file could abuse: anchors and aliases, nesting deeper than CFG_MAX_DEPTH,
 * more than one document, keys that are not scalars, and duplicate keys in a map.
 */
#ifndef SYNTHMPI_CONFIG_TREE_H
#define SYNTHMPI_CONFIG_TREE_H

#include <stddef.h>

#include "synthmpi/core.h"

#define CFG_MAX_DEPTH 32
#define CFG_MAX_BYTES (1024 * 1024)

typedef enum cfg_kind { CFG_SCALAR, CFG_SEQ, CFG_MAP } cfg_kind;

typedef struct cfg_node cfg_node;
struct cfg_node {
  cfg_kind kind;
  int line, column;   /* 1-based start of the node in the file */
  const char *origin; /* NULL: the file; else the override ("key=value") that set it */
  char *text;         /* scalar: the value as written (without quotes) */
  int plain;          /* scalar: written without quotes, so it may mean null */
  int n, cap;         /* seq: items; map: key/value pairs */
  cfg_node **items;   /* seq: (n) items; map: (n) values, NULL while pending */
  cfg_node **keys;    /* map: (n) scalar keys */
};

/* Where an error is reported: the file and its name for messages. */
typedef struct cfg_source {
  sm_ctx *ctx;
  const char *file; /* as given, printed in messages */
} cfg_source;

/* Parse len bytes into a tree (*root is NULL for an empty stream). origin is stored in every
 * node (NULL for the experiment file). Returns SM_EINPUT with a positioned message. */
int cfg_parse(const cfg_source *src, const char *bytes, size_t len, const char *origin,
              cfg_node **root);

/* Apply one "dotted.key=value" override to the top-level map. Keys address maps only; a
 * missing key (or an empty intermediate) is added. The override string must outlive root. */
int cfg_apply_override(const cfg_source *src, cfg_node *root, const char *override);

void cfg_node_free(cfg_node *node);

/* The value of key in a map, or NULL. */
const cfg_node *cfg_map_get(const cfg_node *map, const char *key);

/* A plain scalar that YAML reads as null (empty, "~", "null"). */
int cfg_is_null(const cfg_node *node);

/* Index of the first name equal to an earlier one (in list order), or -1; n log n. */
int cfg_first_duplicate(char *const *names, int n);

/* Record an SM_EINPUT failure prefixed with the node's position ("file:line:col: ") or its
 * override ("--set key=value: "). */
int cfg_error(const cfg_source *src, const cfg_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The scalar's text for messages: control characters replaced, long text shortened. */
void cfg_describe(const cfg_node *node, char *buf, size_t size);

#endif
