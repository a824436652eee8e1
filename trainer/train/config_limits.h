/* Config values that cannot fit in this machine's memory, refused when the config is read
 * (with the estimate) instead of failing later with "out of memory". The estimates are
 * lower bounds, so only a config that cannot possibly run is refused. */
#ifndef TL_CONFIG_LIMITS_H
#define TL_CONFIG_LIMITS_H

#include "core/error.h"
#include "core/yaml_tree.h"

/* The sizes a config asks for (model.head.hidden, train.batch_size, data.image_size)
 * against `memory` bytes (0: unknown, nothing is refused). root: the config's YAML, for
 * the keys' lines; file: its name. */
int config_check_memory(int hidden, int batch_size, int image_size, const YamlNode *root, const char *file, double memory,
                        Err *e);

#endif
