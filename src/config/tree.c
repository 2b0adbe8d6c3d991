/* The experiment file as a tree of positioned YAML nodes (libyaml parser events). */
#include "config/tree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The tree under construction: open containers form a stack. */
typedef struct builder {
  const cfg_source *src;
  const char *origin; /* stored in every node */
  const char *bytes;  /* the input, to turn reader-error offsets into positions */
  size_t len;
  cfg_node *root;
  int depth;
  cfg_node *stack[CFG_MAX_DEPTH];
  int documents;
} builder;

static int parser_failure(const builder *b, const yaml_parser_t *parser);

/* The check macro for libyaml calls (1 = success): on failure record the parser's own
 * problem and position and return SM_EINPUT. */
#define CFG_YAML_CHECK(b, parser, call)                                                            \
  do {                                                                                             \
    if (!(call))                                                                                   \
      return parser_failure((b), (parser));                                                        \
  } while (0)

/* ---- messages ------------------------------------------------------------------------ */

static int vfail(const cfg_source *src, const char *origin, int line, int column, const char *fmt,
                 va_list ap) {
  char body[SM_MSG_MAX];
  vsnprintf(body, sizeof body, fmt, ap);
  if (origin)
    return sm_fail(src->ctx, SM_EINPUT, "--set %s: %s", origin, body);
  return sm_fail(src->ctx, SM_EINPUT, "%s:%d:%d: %s", src->file, line, column, body);
}

static int fail_at(const cfg_source *src, const char *origin, int line, int column, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static int fail_at(const cfg_source *src, const char *origin, int line, int column, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(src, origin, line, column, fmt, ap);
  va_end(ap);
  return rc;
}

int cfg_error(const cfg_source *src, const cfg_node *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(src, at->origin, at->line, at->column, fmt, ap);
  va_end(ap);
  return rc;
}

void cfg_describe(const cfg_node *node, char *buf, size_t size) {
  if (node->kind != CFG_SCALAR) {
    snprintf(buf, size, "%s", node->kind == CFG_SEQ ? "a list" : "a map");
    return;
  }
  if (cfg_is_null(node)) {
    snprintf(buf, size, "null");
    return;
  }

  /* quoted, one line, at most 60 characters of the value */
  char text[64];
  size_t n = 0;
  for (const char *p = node->text; *p && n < 60; p++)
    text[n++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p;
  text[n] = '\0';
  snprintf(buf, size, "'%s%s'", text, strlen(node->text) > 60 ? "..." : "");
}

/* The libyaml problem with its position; reader errors only know a byte offset. */
static int parser_failure(const builder *b, const yaml_parser_t *parser) {
  if (parser->error == YAML_MEMORY_ERROR)
    return sm_fail(b->src->ctx, SM_ERR, "libyaml: out of memory parsing %s", b->src->file);
  int line = (int)parser->problem_mark.line + 1, column = (int)parser->problem_mark.column + 1;

  /* count lines up to the offset of an encoding problem */
  if (parser->error == YAML_READER_ERROR) {
    line = 1, column = 1;
    for (size_t i = 0; i < parser->problem_offset && i < b->len; i++, column++)
      if (b->bytes[i] == '\n')
        line++, column = 0;
  }
  const char *problem = parser->problem ? parser->problem : "syntax error";
  if (!parser->context)
    return fail_at(b->src, b->origin, line, column, "%s", problem);
  return fail_at(b->src, b->origin, line, column, "%s (%s at line %d column %d)", problem,
                 parser->context, (int)parser->context_mark.line + 1,
                 (int)parser->context_mark.column + 1);
}

/* ---- nodes --------------------------------------------------------------------------- */

void cfg_node_free(cfg_node *node) {
  if (!node)
    return;
  for (int i = 0; i < node->n; i++) {
    cfg_node_free(node->items[i]);
    if (node->keys)
      cfg_node_free(node->keys[i]);
  }
  free(node->items);
  free(node->keys);
  free(node->text);
  free(node);
}

static cfg_node *node_new(cfg_kind kind, const char *origin, int line, int column) {
  cfg_node *node = calloc(1, sizeof(*node));
  if (!node)
    return NULL;
  node->kind = kind;
  node->origin = origin;
  node->line = line;
  node->column = column;
  return node;
}

/* Append an item (seq) or a key with its value (map, value may be NULL while pending). */
static int node_append(cfg_node *parent, cfg_node *key, cfg_node *value) {
  if (parent->n == parent->cap) {
    int cap = parent->cap ? 2 * parent->cap : 8;
    cfg_node **items = realloc(parent->items, (size_t)cap * sizeof(*items));
    if (!items)
      return SM_ERR;
    parent->items = items;
    if (parent->kind == CFG_MAP) {
      cfg_node **keys = realloc(parent->keys, (size_t)cap * sizeof(*keys));
      if (!keys)
        return SM_ERR;
      parent->keys = keys;
    }
    parent->cap = cap;
  }
  if (parent->kind == CFG_MAP)
    parent->keys[parent->n] = key;
  parent->items[parent->n++] = value;
  return SM_OK;
}

static int map_index(const cfg_node *map, const char *key) {
  for (int i = 0; i < map->n; i++)
    if (strcmp(map->keys[i]->text, key) == 0)
      return i;
  return -1;
}

const cfg_node *cfg_map_get(const cfg_node *map, const char *key) {
  if (!map || map->kind != CFG_MAP)
    return NULL;
  int i = map_index(map, key);
  return i < 0 ? NULL : map->items[i];
}

int cfg_is_null(const cfg_node *node) {
  if (node->kind != CFG_SCALAR || !node->plain)
    return 0;
  const char *t = node->text;
  return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

typedef struct named_index {
  const char *name;
  int index;
} named_index;

static int named_index_cmp(const void *a, const void *b) {
  const named_index *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

int cfg_first_duplicate(char *const *names, int n) {
  if (n < 2)
    return -1;
  named_index *v = malloc((size_t)n * sizeof(*v));
  if (!v) {
    /* no memory to sort: fall back to the quadratic scan */
    for (int i = 1; i < n; i++)
      for (int j = 0; j < i; j++)
        if (!strcmp(names[i], names[j]))
          return i;
    return -1;
  }

  /* equal names end up adjacent, in list order; the earliest repeat wins */
  for (int i = 0; i < n; i++)
    v[i] = (named_index){names[i], i};
  qsort(v, (size_t)n, sizeof(*v), named_index_cmp);
  int first = -1;
  for (int i = 1; i < n; i++)
    if (!strcmp(v[i].name, v[i - 1].name) && (first < 0 || v[i].index < first))
      first = v[i].index;
  free(v);
  return first;
}

/* ---- building from events ------------------------------------------------------------ */

/* Reject a repeated key in a finished map, naming where it was first written. */
static int check_duplicate_keys(const builder *b, const cfg_node *map) {
  char **names = malloc((size_t)(map->n ? map->n : 1) * sizeof(char *));
  if (!names)
    return sm_fail(b->src->ctx, SM_ERR, "out of memory checking keys");
  for (int i = 0; i < map->n; i++)
    names[i] = map->keys[i]->text;
  int dup = cfg_first_duplicate(names, map->n);
  free(names);
  if (dup < 0)
    return SM_OK;
  const cfg_node *key = map->keys[dup];
  int first = map_index(map, key->text);
  return cfg_error(b->src, key, "duplicate key '%s' (first at line %d)", key->text,
                   map->keys[first]->line);
}

/* Hang a new node under the open container (or make it the root); frees it on failure. */
static int attach(builder *b, cfg_node *node) {
  if (b->depth == 0) {
    b->root = node;
    return SM_OK;
  }
  cfg_node *top = b->stack[b->depth - 1];

  /* a map alternates keys and values; a pending key has a NULL value */
  int rc;
  if (top->kind == CFG_MAP && top->n > 0 && !top->items[top->n - 1]) {
    top->items[top->n - 1] = node;
    return SM_OK;
  }
  if (top->kind == CFG_MAP && node->kind != CFG_SCALAR)
    rc = cfg_error(b->src, node, "keys must be plain strings, not %s",
                   node->kind == CFG_SEQ ? "lists" : "maps");
  else if (top->kind == CFG_MAP)
    rc = node_append(top, node, NULL);
  else
    rc = node_append(top, NULL, node);
  if (rc == SM_ERR)
    sm_fail(b->src->ctx, SM_ERR, "out of memory building the experiment tree");
  if (rc != SM_OK)
    cfg_node_free(node);
  return rc;
}

static int on_scalar(builder *b, const yaml_event_t *ev, int line, int column) {
  if (ev->data.scalar.anchor)
    return fail_at(b->src, b->origin, line, column, "anchors and aliases are not supported ('&%s')",
                   ev->data.scalar.anchor);
  const char *value = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  if (memchr(value, '\0', len))
    return fail_at(b->src, b->origin, line, column, "NUL characters are not allowed");

  cfg_node *node = node_new(CFG_SCALAR, b->origin, line, column);
  char *text = malloc(len + 1);
  if (!node || !text) {
    free(node);
    free(text);
    return sm_fail(b->src->ctx, SM_ERR, "out of memory reading %s", b->src->file);
  }
  memcpy(text, value, len);
  text[len] = '\0';
  node->text = text;
  node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  return attach(b, node);
}

static int on_open(builder *b, cfg_kind kind, const yaml_char_t *anchor, int line, int column) {
  if (anchor)
    return fail_at(b->src, b->origin, line, column, "anchors and aliases are not supported ('&%s')",
                   (const char *)anchor);
  if (b->depth == CFG_MAX_DEPTH)
    return fail_at(b->src, b->origin, line, column, "nesting deeper than %d levels", CFG_MAX_DEPTH);

  /* attach first so the tree owns the node, then open it */
  cfg_node *node = node_new(kind, b->origin, line, column);
  if (!node)
    return sm_fail(b->src->ctx, SM_ERR, "out of memory reading %s", b->src->file);
  SM_TRY(attach(b, node));
  b->stack[b->depth++] = node;
  return SM_OK;
}

static int on_event(builder *b, const yaml_event_t *ev) {
  int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (b->documents++ > 0)
      return fail_at(b->src, b->origin, line, column,
                     "more than one YAML document (a second one starts here)");
    return SM_OK;
  case YAML_ALIAS_EVENT:
    return fail_at(b->src, b->origin, line, column, "aliases are not supported ('*%s')",
                   (const char *)ev->data.alias.anchor);
  case YAML_SCALAR_EVENT:
    return on_scalar(b, ev, line, column);
  case YAML_SEQUENCE_START_EVENT:
    return on_open(b, CFG_SEQ, ev->data.sequence_start.anchor, line, column);
  case YAML_MAPPING_START_EVENT:
    return on_open(b, CFG_MAP, ev->data.mapping_start.anchor, line, column);
  case YAML_SEQUENCE_END_EVENT:
    b->depth--;
    return SM_OK;
  case YAML_MAPPING_END_EVENT:
    b->depth--;
    return check_duplicate_keys(b, b->stack[b->depth]);
  default:
    return SM_OK;
  }
}

static int build(builder *b, yaml_parser_t *parser) {
  for (;;) {
    yaml_event_t ev;
    CFG_YAML_CHECK(b, parser, yaml_parser_parse(parser, &ev));
    int done = ev.type == YAML_STREAM_END_EVENT;
    int rc = on_event(b, &ev);
    yaml_event_delete(&ev);
    if (rc != SM_OK || done)
      return rc;
  }
}

int cfg_parse(const cfg_source *src, const char *bytes, size_t len, const char *origin,
              cfg_node **root) {
  *root = NULL;
  builder b = {.src = src, .origin = origin, .bytes = bytes, .len = len};
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return sm_fail(src->ctx, SM_ERR, "libyaml: cannot create a parser (out of memory)");

  /* the parser reads the bytes in place; the tree copies what it keeps */
  yaml_parser_set_input_string(&parser, (const unsigned char *)bytes, len);
  int rc = build(&b, &parser);
  yaml_parser_delete(&parser);
  if (rc != SM_OK) {
    cfg_node_free(b.root);
    return rc;
  }
  *root = b.root;
  return SM_OK;
}

/* ---- overrides ----------------------------------------------------------------------- */

static cfg_node *scalar_new(const char *origin, const char *text, size_t len) {
  cfg_node *node = node_new(CFG_SCALAR, origin, 0, 0);
  if (node && !(node->text = strndup(text, len))) {
    free(node);
    return NULL;
  }
  if (node)
    node->plain = 1;
  return node;
}

/* Put value under key in map, replacing an existing value; takes ownership of value. */
static int map_put(cfg_node *map, const char *origin, const char *key, size_t len,
                   cfg_node *value) {
  for (int i = 0; i < map->n; i++)
    if (strlen(map->keys[i]->text) == len && !strncmp(map->keys[i]->text, key, len)) {
      cfg_node_free(map->items[i]);
      map->items[i] = value;
      return SM_OK;
    }
  cfg_node *key_node = scalar_new(origin, key, len);
  if (!key_node || node_append(map, key_node, value) != SM_OK) {
    cfg_node_free(key_node);
    cfg_node_free(value);
    return SM_ERR;
  }
  return SM_OK;
}

/* The map under key (len bytes) in map, created when absent or null; NULL when the key
 * holds something else. *oom is set when memory ran out. */
static cfg_node *map_descend(cfg_node *map, const char *origin, const char *key, size_t len,
                             int *oom) {
  for (int i = 0; i < map->n; i++)
    if (strlen(map->keys[i]->text) == len && !strncmp(map->keys[i]->text, key, len)) {
      if (map->items[i]->kind == CFG_MAP)
        return map->items[i];
      if (!cfg_is_null(map->items[i]))
        return NULL;
      break;
    }
  cfg_node *child = node_new(CFG_MAP, origin, 0, 0);
  if (!child || map_put(map, origin, key, len, child) != SM_OK) {
    *oom = 1;
    return NULL;
  }
  return child;
}

/* Parse the value text of an override; an empty value is null. */
static int parse_override_value(const cfg_source *src, const char *ov, const char *text,
                                cfg_node **value) {
  SM_TRY(cfg_parse(src, text, strlen(text), ov, value));
  if (!*value && !(*value = scalar_new(ov, "", 0)))
    return sm_fail(src->ctx, SM_ERR, "out of memory applying --set %s", ov);
  return SM_OK;
}

int cfg_apply_override(const cfg_source *src, cfg_node *root, const char *ov) {
  /* the key: non-empty dotted segments, not deeper than the file may nest */
  const char *eq = strchr(ov, '=');
  if (!eq || eq == ov)
    return fail_at(src, ov, 0, 0, "expected key=value, e.g. sampling.rows=1000");
  int segments = 1;
  for (const char *p = ov; p < eq; p++) {
    if (*p == '.' && (p == ov || p[-1] == '.' || p + 1 == eq))
      return fail_at(src, ov, 0, 0, "empty key in '%.*s'", (int)(eq - ov), ov);
    segments += *p == '.';
  }
  if (segments > CFG_MAX_DEPTH)
    return fail_at(src, ov, 0, 0, "key nested deeper than %d levels", CFG_MAX_DEPTH);

  /* the value: a YAML scalar or flow collection */
  cfg_node *value = NULL;
  SM_TRY(parse_override_value(src, ov, eq + 1, &value));

  /* walk (and make) the maps down to the last segment */
  cfg_node *map = root;
  const char *seg = ov;
  for (const char *dot; (dot = memchr(seg, '.', (size_t)(eq - seg))); seg = dot + 1) {
    int oom = 0;
    cfg_node *next = map_descend(map, ov, seg, (size_t)(dot - seg), &oom);
    if (!next) {
      cfg_node_free(value);
      if (oom)
        return sm_fail(src->ctx, SM_ERR, "out of memory applying --set %s", ov);
      return fail_at(src, ov, 0, 0, "'%.*s' is not a map", (int)(dot - ov), ov);
    }
    map = next;
  }
  if (map_put(map, ov, seg, (size_t)(eq - seg), value) != SM_OK)
    return sm_fail(src->ctx, SM_ERR, "out of memory applying --set %s", ov);
  return SM_OK;
}
