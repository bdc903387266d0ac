#include "../mass/model.h"
