#include "dpsanitize/audit/audit.h"
