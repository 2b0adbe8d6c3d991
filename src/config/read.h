/* Private: typed values from the experiment tree, with positioned messages.
 *
 * `what` names the setting in messages by its dotted path ("sampling.rows"); `section` is
 * the dotted path of a map ("" for the top level). Getters take the map, which may be NULL
 * when the section is absent; an absent or null key takes the default.
 */
#ifndef SYNTHMPI_CONFIG_READ_H
#define SYNTHMPI_CONFIG_READ_H

#include <stdint.h>

#include "config/tree.h"

/* Values of one node. */
int cfg_int_value(const cfg_source *src, const cfg_node *node, const char *what, int64_t lo,
                  int64_t hi, int64_t *out);
int cfg_uint64_value(const cfg_source *src, const cfg_node *node, const char *what, uint64_t *out);
int cfg_real_value(const cfg_source *src, const cfg_node *node, const char *what, double lo,
                   double hi, double *out);
int cfg_bool_value(const cfg_source *src, const cfg_node *node, const char *what, int *out);
/* A string (malloc'd); null is refused. */
int cfg_string_value(const cfg_source *src, const cfg_node *node, const char *what, char **out);

/* Refuse keys outside the NULL-terminated known list, listing the known ones. */
int cfg_check_keys(const cfg_source *src, const cfg_node *map, const char *section,
                   const char *const *known);

/* The map under key, or NULL when absent or null; SM_EINPUT when it is something else. */
int cfg_get_map(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                const cfg_node **out);
/* A required key: SM_EINPUT at the map's position when absent or null. */
int cfg_require(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                const cfg_node **out);
/* The value under key when present and not null, else NULL. */
const cfg_node *cfg_get(const cfg_node *map, const char *key);

int cfg_get_int(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                int64_t lo, int64_t hi, int64_t dflt, int64_t *out);
int cfg_get_uint64(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                   uint64_t dflt, uint64_t *out);
int cfg_get_real(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                 double lo, double hi, double dflt, double *out);
int cfg_get_bool(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                 int dflt, int *out);
/* A string (malloc'd), or a copy of dflt (NULL stays NULL) when absent. */
int cfg_get_string(const cfg_source *src, const cfg_node *map, const char *section, const char *key,
                   const char *dflt, char **out);

/* "section.key" (or "key" at the top level) into buf. */
const char *cfg_join(char *buf, size_t size, const char *section, const char *key);

#endif
