// libyaml's event parser, used by the configuration loader.
#include <yaml.h>
